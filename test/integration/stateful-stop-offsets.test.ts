/**
 * Stopping a stateful runtime with its fetch decoupled (docs/stateful-runtime.md
 * "Decoupled fetch", "Stopping"), against the real Kafka and registry, running
 * order fulfilment on topics of its own, positions in the changelog as the
 * command processor keeps them. Once stopping, the runtime drops what is
 * queued and what the consumer still hands over, "left uncommitted for the
 * next owner". A batch read after that must not move the offsets its last
 * flush commits: otherwise the next owner starts past inputs nobody decided.
 *
 * That is how chaos seed 7 (COMMAND_ENGINE=runtime, a rolling restart of the
 * processors) lost two orders' ConfirmOrder: order fulfilment writes a command
 * once and never retries it, unlike a client (docs/chaos.md).
 */
import { logLevel, type Consumer, type ConsumerConfig, type Kafka } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { rootLogger } from '../../infra/logging';
import { orderFulfilmentProcess } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.process';
import type { FulfilmentInput } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import type { PlacementFactsSource } from '../../consumers/process-managers/order-fulfilment/placement-facts';
import { ProcessManagerRuntime } from '../../consumers/process-managers/runtime/runtime';
import type { OrderFulfilmentState } from '../../schemas/generated/types';
import { partitionFor } from '../../schemas/partitioning';
import { checkpointKeyOf } from '../../infra/stateful/position-store';
import { testKafka, testRegistry, unique } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { createFulfilmentTopics, deleteFulfilmentRun, endOffsets, fulfilmentTopics, orderEventsOf, placed, readRecords } from '../support/process-managers';
import { produceEnvelopes } from '../support/read-side';

jest.setTimeout(120_000);

type Runtime = ProcessManagerRuntime<OrderFulfilmentState, FulfilmentInput>;
const PARTITIONS = 6;
const kafka = testKafka('it-stop-offsets', logLevel.NOTHING);
const codec = new AvroCodec(testRegistry());
const logger = rootLogger.child({ test: 'stateful-stop-offsets' });
logger.level = 'silent';
const made = fulfilmentTopics(unique('it-stopoff'));
const { topics, topicMap, groupId } = made;
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const orderEvents = orderEventsOf(made, PARTITIONS);
const running: Runtime[] = [];

/** Orders whose facts lookup waits for their release (the customer id is the order id). */
const held = new Map<string, { readonly released: Promise<void>; readonly release: () => void }>();
const asked = new Set<string>();
const facts: PlacementFactsSource = {
  factsFor: async (orders) => {
    for (const o of orders) {
      asked.add(o.customerId);
      await held.get(o.customerId)?.released;
    }
    return orders.map(() => ({ customerExists: true, menuItems: { 'm-1': 'AVAILABLE' } }));
  },
};

function hold(orderId: string): () => void {
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  held.set(orderId, { released, release });
  return release;
}

/** The runtime's kafkajs consumers of its group, to watch the batches they read. */
const consumers: Consumer[] = [];
const watched = new Proxy(kafka, {
  get(target, property, receiver): unknown {
    if (property === 'consumer')
      return (config: ConsumerConfig): Consumer => {
        const consumer = target.consumer(config);
        if (config.groupId === groupId) consumers.push(consumer);
        return consumer;
      };
    const value: unknown = Reflect.get(target, property, receiver);
    return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
  },
}) as Kafka;

async function start(): Promise<Runtime> {
  const definition = { ...orderFulfilmentProcess({ facts, config: { paymentTimeoutMs: 600_000, maxPaymentRequests: 1, refundTimeoutMs: 600_000, maxRefundRequests: 1 } }), positions: 'changelog' as const };
  const runtime = new ProcessManagerRuntime({ kafka: watched, codec, logger, definition, topicMap, groupId, decoupledFetch: true, retry: { attempts: 2, initialDelayMs: 20, maxDelayMs: 50 }, offsetFlushMs: 200 });
  await runtime.start();
  running.push(runtime);
  await waitFor('the runtime to take on every partition', async () => (runtime.stats().partitions.length === PARTITIONS ? true : undefined));
  return runtime;
}

function ordersOn(partition: number, prefix: string, n: number): string[] {
  const ids: string[] = [];
  for (let i = 0; ids.length < n; i += 1) if (partitionFor(`${prefix}-${i}`, PARTITIONS) === partition) ids.push(`${prefix}-${i}`);
  return ids;
}

const order = (orderId: string) => placed(orderId, { customerId: orderId });
const requests = async (): Promise<string[]> => (await readRecords(kafka, topics.paymentRequests, codec)).filter((r) => r.type === 'PaymentRequested').map((r) => String(r.key).split('/')[0] as string);
const endOf = async (partition: number): Promise<number> => (await endOffsets(kafka, [topics.orderEvents])).get(topics.orderEvents)?.get(partition) ?? 0;

/** Partition -> the order events' checkpoint (the next offset to decide) on the changelog. */
async function checkpoints(): Promise<Map<number, number>> {
  const key = checkpointKeyOf(groupId, topics.orderEvents);
  const records = (await readRecords(kafka, topics.changelog, codec)).filter((r) => r.key === key).sort((a, b) => a.offset - b.offset);
  return new Map(records.map((r) => [r.partition, Number(r.value?.nextOffset)]));
}

beforeAll(async () => {
  await producer.connect();
  await createFulfilmentTopics(kafka, made, PARTITIONS);
});

afterAll(async () => {
  for (const { release } of held.values()) release();
  for (const r of [...running]) await r.stop().catch(() => undefined);
  await producer.disconnect();
  await deleteFulfilmentRun(kafka, made, groupId);
});

describe('stopping a runtime with its fetch decoupled', () => {
  it('commits no offset past what it dropped: the next owner decides every input it did not', async () => {
    const [p, q] = [5, 0];
    const first = await start();
    const [held1, queued1, queued2, late] = ordersOn(p, 'o-stop', 4) as [string, string, string, string];
    const [other] = ordersOn(q, 'o-other', 1) as [string];
    const releaseHeld = hold(held1);
    const releaseOther = hold(other);
    const base = await endOf(p);
    // Partition p: one order held in its round, two queued behind it. Partition q: one held, keeping the stop waiting.
    await produceEnvelopes(producer, codec, orderEvents, [order(held1)]);
    await produceEnvelopes(producer, codec, orderEvents, [order(queued1), order(queued2), order(other)]);
    await waitFor('both held lookups to be asked for and the queued orders read', async () => (asked.has(held1) && asked.has(other) && first.consumer.stats.records >= 4 ? true : undefined));

    // Stopping: the round in flight on p commits, then what is queued there is dropped.
    const stopped = first.stop();
    releaseHeld();
    await waitFor('the held order of p to be decided', async () => ((await requests()).includes(held1) ? true : undefined));
    // Still stopping (q holds it): the consumer reads a new batch of p, which the runtime drops as well.
    let readUpTo = -1;
    for (const consumer of consumers) consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.topic === topics.orderEvents && payload.partition === p) readUpTo = Math.max(readUpTo, Number(payload.lastOffset));
    });
    await produceEnvelopes(producer, codec, orderEvents, [order(late)]);
    await waitFor('the consumer to read the late order of p while stopping', async () => (readUpTo >= base + 3 ? true : undefined));
    releaseOther();
    await stopped;
    running.splice(running.indexOf(first), 1);

    // p's checkpoint covers the held order alone: the dropped ones are the next owner's.
    expect((await requests()).filter((id) => [queued1, queued2, late].includes(id))).toEqual([]);
    expect((await checkpoints()).get(p)).toBe(base + 1);

    const second = await start();
    const all = await waitFor('the next owner to decide the dropped orders', async () => {
      const written = await requests();
      return [queued1, queued2, late].every((id) => written.includes(id)) ? written : undefined;
    });
    expect(all.filter((id) => [held1, queued1, queued2, late].includes(id)).sort()).toEqual([held1, queued1, queued2, late].sort());
    await second.stop();
    running.splice(running.indexOf(second), 1);
  });
});
