import type { CommandMetadata } from '../../../../schemas/generated/types';
import { topicCatalog } from '../../../../schemas/topics';
import { aggregateRuntimes } from '../../../../producers/command-processor/aggregates';
import { commandDefinition, type CommandInput } from '../../../../producers/command-processor/command-definition';
import type { CommandMetricRecorder } from '../../../../producers/command-processor/metrics';
import { meteredDefinition, RuntimeTransactionMeter, transactionDurations } from '../../../../producers/command-processor/runtime-metrics';

const NOW = 1_767_225_600_000;
const EVENTS = 'restaurant.order.events';
const order = aggregateRuntimes({ order: { maxOrderTotalMinor: 100_000 } }).order;

function recorder() {
  const calls: string[] = [];
  const latencies: number[] = [];
  const record: CommandMetricRecorder = {
    processed: (aggregate, command, outcome, n = 1) => calls.push(`processed ${aggregate} ${command} ${outcome} ${n}`),
    event: (aggregate, event) => calls.push(`event ${aggregate} ${event}`),
    latency: (_aggregate, seconds) => latencies.push(seconds),
    transactionDuration: (aggregate, seconds) => calls.push(`duration ${aggregate} ${seconds}`),
    transaction: (aggregate, result, n = 1) => calls.push(`transaction ${aggregate} ${result} ${n}`),
  };
  return { calls, latencies, record };
}

const meta = (commandId: string, expectedVersion: number | null = null): CommandMetadata => ({ commandId, aggregateId: 'o-1', correlationId: `k-${commandId}`, issuedAt: NOW - 1500, expectedVersion, actor: null });
const openOrder = (commandId: string): CommandInput => ({ kind: 'command', type: 'OpenOrder', data: { customerId: 'c-1' }, metadata: meta(commandId) });

describe('the processor on the runtime: its metrics', () => {
  it('counts each decision by outcome, its events and its latency from issuedAt', () => {
    const { calls, latencies, record } = recorder();
    const definition = meteredDefinition(commandDefinition({ runtime: order, catalog: topicCatalog({ partitions: 6 }), clock: () => NOW }), 'order', EVENTS, record, () => NOW);
    const first = definition.decide(openOrder('c-1'), definition.initialState('o-1'));
    const opened = first.completeState?.(first.state, [{ topic: EVENTS, partition: 0, offset: 7, id: first.emit[0]?.id ?? '' }]) ?? first.state;
    definition.decide(openOrder('c-1'), opened); // the same commandId again
    definition.decide(openOrder('c-2'), opened); // an order already open: rejected
    expect(() => definition.decide({ kind: 'foreign', aggregateId: 'o-1', fullName: 'restaurant.menu.AddMenuItem', where: 'x/0@1' }, opened)).toThrow(/not a command of order/);
    expect(calls).toEqual(['processed order OpenOrder accepted 1', 'event order OrderOpened', 'processed order OpenOrder duplicate 1', 'processed order OpenOrder rejected 1', 'processed order unknown dead_lettered 1']);
    expect(latencies).toEqual([1.5, 1.5, 1.5]);
  });

  it("counts the runtime's transactions since the last look", () => {
    const { calls, record } = recorder();
    let stats = { transactions: 3, transactionsFailed: 0 };
    const meter = new RuntimeTransactionMeter(() => stats, record);
    meter.flush();
    stats = { transactions: 5, transactionsFailed: 1 };
    meter.flush();
    meter.flush();
    expect(calls).toEqual(['transaction all committed 3', 'transaction all committed 2', 'transaction all failed 1']);
  });

  it("observes each committed round's duration under aggregate=all, whichever partition", () => {
    const { calls, record } = recorder();
    const observe = transactionDurations(record);
    observe(0, 0.25);
    observe(5, 1.5);
    expect(calls).toEqual(['duration all 0.25', 'duration all 1.5']);
  });
});
