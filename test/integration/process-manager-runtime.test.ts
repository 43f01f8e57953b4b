/**
 * The process-manager runtime against the real Kafka and registry, running the
 * order-fulfilment definition on topics of its own (so poison and made-up
 * answers never reach the real topics):
 *
 * - decisions, changelog, dead letters and offsets commit together; garbage
 *   and an input whose decision throws go to the DLQ with their reason and the
 *   rest carries on; deadlines fire;
 * - a new instance with the group's offsets deleted reads everything again,
 *   restores from the changelog and writes nothing;
 * - a transaction fenced by another holder of the task's transactional id is
 *   aborted, the task restores and the input is decided exactly once;
 * - the trace context of an input travels to what its step emits and to the
 *   process's changelog record, and a deadline set before a restart fires, on
 *   the instance that restored it, in the trace of the step that set it,
 *   whether its store was kept (the trace kept beside the state) or rebuilt
 *   from the changelog (the trace read from the record's headers) (tracing
 *   off here: the context is forwarded unchanged).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logLevel } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { fencedProducer } from '../../infra/kafka/transactions';
import { rootLogger } from '../../infra/logging';
import { orderFulfilmentProcess } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.process';
import { fulfilmentIds, type FulfilmentInput } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import type { PlacementFactsSource } from '../../consumers/process-managers/order-fulfilment/placement-facts';
import type { ProcessDefinition } from '../../consumers/process-managers/runtime/definition';
import { ProcessManagerRuntime } from '../../consumers/process-managers/runtime/runtime';
import { storeDirOf } from '../../infra/stateful/load';
import type { OrderFulfilmentState } from '../../schemas/generated/types';
import { partitionFor } from '../../schemas/partitioning';
import { dlqTopicName } from '../../schemas/topics';
import { testKafka, testRegistry, unique, withAdmin } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { committedUpTo, countBy, createFulfilmentTopics, deleteFulfilmentRun, endOffsets, fulfilmentTopics, latestByKey, orderEventsOf, paymentAnswer, paymentResultsOf, placed, readRecords } from '../support/process-managers';
import { produceEnvelopes } from '../support/read-side';

jest.setTimeout(120_000);

const kafka = testKafka('it-process-manager', logLevel.NOTHING);
const codec = new AvroCodec(testRegistry());
const logger = rootLogger.child({ test: 'process-manager-runtime' });
logger.level = 'silent';
const PARTITIONS = 6; // the catalog's count for orders and payments
const run = unique('it-pm');
const made = fulfilmentTopics(run);
const { topics, topicMap, groupId } = made;
// The payment deadline counts from the OrderPlaced event's time, set when the test produces it: long enough for the
// runtime to start, request every payment and decide the answers first on a loaded CI machine (2 s was not).
const TIMEOUT_MS = 8_000;
// Idempotent: kafkajs retries a whole produce request when one partition of a new topic answers with an error, and
// without idempotence the partitions that had succeeded would get the test's input twice.
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const running: Array<ProcessManagerRuntime<OrderFulfilmentState, FulfilmentInput>> = [];

/** Every customer but "nobody" exists; item m-1 is on the menu. */
const facts: PlacementFactsSource = {
  factsFor: async (orders) => orders.map((o) => ({ customerExists: o.customerId !== 'nobody', menuItems: { 'm-1': 'AVAILABLE' } })),
};

/** Order fulfilment, except that deciding anything for order "o-poison" throws (a bug stand-in). */
function definition(): ProcessDefinition<OrderFulfilmentState, FulfilmentInput> {
  const base = orderFulfilmentProcess({ facts, config: { paymentTimeoutMs: TIMEOUT_MS, maxPaymentRequests: 1, refundTimeoutMs: 60_000, maxRefundRequests: 1 } });
  return {
    ...base,
    decide: (input, state) => {
      if (state.orderId === 'o-poison') throw new Error('a decision that throws');
      return base.decide(input, state);
    },
  };
}

async function start(options: { readonly stateDir?: string; readonly decoupledFetch?: boolean } = {}): Promise<ProcessManagerRuntime<OrderFulfilmentState, FulfilmentInput>> {
  const runtime = new ProcessManagerRuntime({ kafka, codec, logger, definition: definition(), topicMap, groupId, retry: { attempts: 2, initialDelayMs: 20, maxDelayMs: 50 }, offsetFlushMs: 200, ...options });
  await runtime.start();
  running.push(runtime);
  return runtime;
}

async function stop(runtime: ProcessManagerRuntime<OrderFulfilmentState, FulfilmentInput>): Promise<void> {
  await runtime.stop();
  running.splice(running.indexOf(runtime), 1);
}

const answer = paymentAnswer;
const orderEvents = orderEventsOf(made, PARTITIONS);
const paymentResults = paymentResultsOf(made, PARTITIONS);

const ORDERS = Array.from({ length: 20 }, (_, i) => `o-${i + 1}`);
const AUTHORIZED = ORDERS.slice(0, 10);
const DECLINED = ORDERS.slice(10, 13);
const SILENT = ORDERS.slice(13);

beforeAll(async () => {
  await producer.connect();
  await createFulfilmentTopics(kafka, made, PARTITIONS);
});

afterAll(async () => {
  for (const r of [...running]) await r.stop();
  await producer.disconnect();
  await deleteFulfilmentRun(kafka, made, groupId);
});

const commands = async () => readRecords(kafka, topics.orderCommands, codec);
const statuses = async () => new Map([...latestByKey(await readRecords(kafka, topics.changelog, codec))].map(([id, r]) => [id, (r.value as unknown as OrderFulfilmentState).status]));

describe('the process-manager runtime on its own topics', () => {
  it('commits decisions, states, dead letters and offsets together, isolates poison, and fires deadlines', async () => {
    await produceEnvelopes(producer, codec, orderEvents, [...ORDERS.map((o) => placed(o)), placed('o-nobody', { customerId: 'nobody' }), placed('o-poison')]);
    await producer.send({ topic: topics.orderEvents, messages: [{ key: 'garbage', value: Buffer.from('not avro at all'), partition: partitionFor('garbage', PARTITIONS), headers: { 'event-type': 'OrderPlaced' } }] });
    const runtime = await start();

    const requested = await waitFor('a payment request per order that passed its checks', async () => {
      const records = (await readRecords(kafka, topics.paymentRequests, codec)).filter((r) => r.type === 'PaymentRequested');
      return records.length >= ORDERS.length ? records : undefined;
    });
    expect(requested.map((r) => r.key).sort()).toEqual(ORDERS.map((o) => `${o}/1`).sort());
    expect(requested.every((r) => r.partition === partitionFor(r.key.split('/')[0] as string, PARTITIONS))).toBe(true);

    await produceEnvelopes(producer, codec, paymentResults, [...AUTHORIZED.map((o) => answer(o, 'PaymentAuthorized')), ...DECLINED.map((o) => answer(o, 'PaymentDeclined'))]);
    const expected = new Map<string, string>([
      ...AUTHORIZED.map((o) => [o, 'ConfirmOrder'] as const),
      ...DECLINED.map((o) => [o, 'RejectOrder'] as const),
      ...SILENT.map((o) => [o, 'CancelOrder'] as const),
      ['o-nobody', 'RejectOrder'],
    ]);
    const written = await waitFor('a follow-up command per order (the silent ones after their deadline)', async () => {
      const records = await commands();
      return records.length >= expected.size ? records : undefined;
    });
    expect(new Map(written.map((r) => [r.key, r.type]))).toEqual(expected);
    expect(written).toHaveLength(expected.size);
    expect(written.find((r) => r.key === 'o-nobody')?.value).toMatchObject({ reason: 'customer nobody is not known' });
    expect(written.find((r) => r.key === SILENT[0])?.value).toMatchObject({ reason: 'payment timed out' });
    expect(written.every((r) => r.headers['command-id'] === fulfilmentIds.message(r.key, r.type as 'ConfirmOrder'))).toBe(true);

    const dead = await readRecords(kafka, dlqTopicName(topics.orderEvents));
    expect(dead.map((d) => [d.key, d.headers['dlq-reason'], d.headers['dlq-consumer-group']]).sort()).toEqual([
      ['garbage', 'not-avro', groupId],
      ['o-poison/4', 'processing-failed', groupId],
    ]);
    expect(dead.find((d) => d.key === 'o-poison/4')?.headers['dlq-error']).toMatch(/a decision that throws/);

    const byStatus = await statuses();
    expect(countBy([...byStatus.values()], (s) => s)).toEqual(new Map([['CONFIRMED', 10], ['REJECTED', 4], ['TIMED_OUT', 7]]));
    const stats = runtime.stats();
    expect(stats).toMatchObject({ instances: 21, instancesByState: { CONFIRMED: 10, REJECTED: 4, TIMED_OUT: 7 }, pendingDeadlines: 0, deadlinesFired: SILENT.length, messagesEmitted: ORDERS.length + expected.size, deadLettered: 2 });
    expect(stats.messagesEmittedByType).toEqual({ PaymentRequested: 20, ConfirmOrder: 10, RejectOrder: 4, CancelOrder: 7 });
    expect(stats.processFailures).toBe(DECLINED.length + SILENT.length + 1);
    expect(stats.partitions).toEqual([0, 1, 2, 3, 4, 5]);
    await stop(runtime);
  });

  it('a new instance with the group reset to the earliest offsets restores its state and writes nothing', async () => {
    await withAdmin(kafka, (admin) => admin.deleteGroups([groupId]));
    const outputs = await endOffsets(kafka, [topics.orderCommands, topics.paymentRequests, topics.changelog]);
    const before = await statuses();
    const runtime = await start();
    const inputs = await endOffsets(kafka, [topics.orderEvents, topics.paymentResults]);
    await waitFor('the replay to commit every input offset', async () => ((await committedUpTo(kafka, groupId, inputs)) ? true : undefined));
    expect(runtime.stats()).toMatchObject({ instances: 21, messagesEmitted: 0, deadlinesFired: 0, inputsChanged: 0 });
    expect(runtime.stats().inputsDecided).toBeGreaterThanOrEqual(ORDERS.length + AUTHORIZED.length + DECLINED.length + 1);
    expect(await endOffsets(kafka, [topics.orderCommands, topics.paymentRequests, topics.changelog])).toEqual(outputs);
    expect(await statuses()).toEqual(before);
    await stop(runtime);
  });

  // The batch-at-a-time path (decoupled fetch off): the aborted round's batch is handed back and the consumer retries it.
  // The decoupled fetch's own fenced case (dropped, restored, rewound) is in stateful-decoupled-fetch.test.ts.
  it('a fenced transaction is aborted, the partition restored, and the input decided once (decoupled fetch off)', async () => {
    const runtime = await start({ decoupledFetch: false });
    const orderId = 'o-fenced';
    const partition = partitionFor(orderId, PARTITIONS);
    await waitFor('the instance to own the partition', async () => (runtime.stats().partitions.includes(partition) ? true : undefined));
    // Someone else takes the task's transactional id: the runtime's producer is now a zombie.
    const intruder = await fencedProducer(kafka, `${groupId}.${partition}`);
    await produceEnvelopes(producer, codec, orderEvents, [placed(orderId)]);
    const requests = await waitFor('the payment request of the new order', async () => {
      const found = (await readRecords(kafka, topics.paymentRequests, codec)).filter((r) => r.key === `${orderId}/1`);
      return found.length > 0 ? found : undefined;
    });
    expect(requests).toHaveLength(1);
    const stats = runtime.stats();
    expect(stats.transactionsFailed).toBeGreaterThanOrEqual(1);
    expect(stats.restores).toBeGreaterThan(PARTITIONS);
    // The restored task keeps going: the order's deadline fires, once.
    const cancels = await waitFor('the new order to time out', async () => {
      const found = (await commands()).filter((r) => r.key === orderId);
      return found.length > 0 ? found : undefined;
    });
    expect(cancels.map((r) => r.type)).toEqual(['CancelOrder']);
    expect((await statuses()).get(orderId)).toBe('TIMED_OUT');
    await intruder.disconnect();
    await stop(runtime);
  });

  it('a deadline set before a restart fires in the trace of the step that set it, from the store kept and from a store rebuilt from the changelog', async () => {
    // Two orders on different partitions: after a clean stop, the store of one is kept (its trace comes from the
    // store, nothing is re-read) and the store of the other is deleted (rebuilt from the changelog records' headers).
    const kept = 'o-traced-kept';
    const keptPartition = partitionFor(kept, PARTITIONS);
    const rebuilt = Array.from({ length: 50 }, (_, i) => `o-traced-rebuilt-${i}`).find((id) => partitionFor(id, PARTITIONS) !== keptPartition) as string;
    const traces = new Map([
      [kept, '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
      [rebuilt, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'],
    ]);
    const stateDir = mkdtempSync(join(tmpdir(), 'it-pm-traced-'));
    try {
      // Their payment deadlines come due 30 s after the test produces them (occurredAt ahead): well after the first instance stops.
      const fullName = 'restaurant.order.OrderPlaced';
      const schemaId = await codec.schemaId('restaurant.order.events', fullName);
      const messages = [...traces].map(([orderId, traceparent]) => {
        const event = placed(orderId);
        const metadata = { ...event.metadata, occurredAt: Date.now() + 30_000 - TIMEOUT_MS };
        const value = codec.encodeWithId(schemaId, fullName, { ...event.event.data, metadata });
        return { key: `${orderId}/4`, value, partition: partitionFor(orderId, PARTITIONS), headers: { 'event-type': 'OrderPlaced', traceparent } };
      });
      await producer.send({ topic: topics.orderEvents, acks: -1, messages });
      const first = await start({ stateDir });
      const requests = await waitFor('the payment requests of the traced orders', async () => {
        const found = (await readRecords(kafka, topics.paymentRequests, codec)).filter((r) => [...traces.keys()].some((id) => r.key === `${id}/1`));
        return found.length === traces.size ? found : undefined;
      });
      for (const request of requests) expect(request.headers.traceparent).toBe(traces.get(String(request.key).split('/')[0] ?? ''));
      await stop(first);
      const states = latestByKey((await readRecords(kafka, topics.changelog, codec)).filter((r) => traces.has(String(r.key))));
      for (const [orderId, traceparent] of traces) expect(states.get(orderId)?.headers.traceparent).toBe(traceparent);
      expect((await commands()).filter((r) => traces.has(String(r.key)))).toEqual([]);

      const rebuiltStore = storeDirOf(stateDir, topics.changelog, partitionFor(rebuilt, PARTITIONS));
      expect(existsSync(storeDirOf(stateDir, topics.changelog, keptPartition))).toBe(true);
      expect(existsSync(rebuiltStore)).toBe(true);
      rmSync(rebuiltStore, { recursive: true, force: true });

      const second = await start({ stateDir });
      const cancels = await waitFor('the payment deadlines to cancel the traced orders', async () => {
        const found = (await commands()).filter((r) => traces.has(String(r.key)));
        return found.length === traces.size ? found : undefined;
      }, 90_000, 500);
      for (const cancel of cancels) {
        expect(cancel.type).toBe('CancelOrder');
        expect(cancel.headers.traceparent).toBe(traces.get(String(cancel.key)));
      }
      await stop(second);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 180_000);
});
