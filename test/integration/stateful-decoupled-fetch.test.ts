/**
 * The stateful runtime with its fetch decoupled from deciding
 * (docs/stateful-runtime.md "Decoupled fetch"), against the real Kafka and
 * registry, running order fulfilment on topics of its own. The placement facts
 * (the definition's async `inputsFor` lookup) are where the test holds a
 * partition's task still, or makes it fail:
 *
 * - a task held on one order does not stall the others: orders produced later
 *   on other partitions are decided while it waits;
 * - a held partition with more than `maxQueued` records waiting is paused,
 *   and resumed once its task catches up; every order is decided once;
 * - a fenced transaction: the task restores, the consumer is rewound to its
 *   committed offsets, and every order is decided exactly once;
 * - a decision that throws is dead-lettered while the orders of its batch
 *   around it are decided; a lookup that fails (not the input's fault) is
 *   retried, and the partition's orders are still decided in order;
 * - with positions in the changelog, the group's offset (the lag report,
 *   outside the transactions) of a task held with orders queued stays at its
 *   committed checkpoint while other partitions' reports go on, and reaches
 *   the end once the task has decided them.
 */
import { logLevel } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { fencedProducer } from '../../infra/kafka/transactions';
import { rootLogger } from '../../infra/logging';
import { orderFulfilmentProcess } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.process';
import type { FulfilmentInput } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import type { PlacementFactsSource } from '../../consumers/process-managers/order-fulfilment/placement-facts';
import type { ProcessDefinition } from '../../consumers/process-managers/runtime/definition';
import { ProcessManagerRuntime } from '../../consumers/process-managers/runtime/runtime';
import type { OrderFulfilmentState } from '../../schemas/generated/types';
import { partitionFor } from '../../schemas/partitioning';
import { dlqTopicName } from '../../schemas/topics';
import { testKafka, testRegistry, unique, withAdmin } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { countBy, createFulfilmentTopics, deleteFulfilmentRun, endOffsets, fulfilmentTopics, orderEventsOf, placed, readRecords } from '../support/process-managers';
import { checkpointKeyOf } from '../../infra/stateful/position-store';
import { produceEnvelopes } from '../support/read-side';

jest.setTimeout(120_000);

type Runtime = ProcessManagerRuntime<OrderFulfilmentState, FulfilmentInput>;
const kafka = testKafka('it-decoupled-fetch', logLevel.NOTHING);
const codec = new AvroCodec(testRegistry());
const logger = rootLogger.child({ test: 'stateful-decoupled-fetch' });
logger.level = 'silent';
const PARTITIONS = 6;
const run = unique('it-dfetch');
const made = fulfilmentTopics(run);
const { topics, topicMap, groupId } = made;
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const running: Runtime[] = [];
const orderEvents = orderEventsOf(made, PARTITIONS);

/** An order placed by a customer of the same id: the facts lookup sees only the customer. */
const order = (orderId: string) => placed(orderId, { customerId: orderId });

/** Held orders wait for their release before their facts are given; failing ones throw that many times first. */
const held = new Map<string, Promise<void>>();
const failing = new Map<string, number>();
const facts: PlacementFactsSource = {
  factsFor: async (orders) => {
    for (const o of orders) {
      await held.get(o.customerId);
      const left = failing.get(o.customerId) ?? 0;
      if (left > 0) {
        failing.set(o.customerId, left - 1);
        throw new Error(`the views are behind for ${o.customerId} (a stand-in for FactsBehind)`);
      }
    }
    return orders.map(() => ({ customerExists: true, menuItems: { 'm-1': 'AVAILABLE' } }));
  },
};

/** Holds still unreleased when the file ends (a case failed): released first, so that the runtimes can stop. */
const unreleased = new Set<() => void>();

function hold(orderId: string): () => void {
  let release: () => void = () => undefined;
  held.set(orderId, new Promise<void>((resolve) => (release = resolve)));
  const releaseOnce = (): void => {
    unreleased.delete(releaseOnce);
    held.delete(orderId);
    release();
  };
  unreleased.add(releaseOnce);
  return releaseOnce;
}

/** Order fulfilment with the facts above, except that deciding anything for an order named "...poison..." throws. */
function definition(): ProcessDefinition<OrderFulfilmentState, FulfilmentInput> {
  const base = orderFulfilmentProcess({ facts, config: { paymentTimeoutMs: 600_000, maxPaymentRequests: 1, refundTimeoutMs: 600_000, maxRefundRequests: 1 } });
  return {
    ...base,
    decide: (input, state) => {
      if (state.orderId.includes('poison')) throw new Error('a decision that throws');
      return base.decide(input, state);
    },
  };
}

async function start(limits: { readonly maxQueued?: number; readonly maxPerRound?: number } = {}, positions: 'group' | 'changelog' = 'group'): Promise<Runtime> {
  const runtime = new ProcessManagerRuntime({ kafka, codec, logger, definition: { ...definition(), positions }, topicMap, groupId, decoupledFetch: true, fetchLimits: limits, retry: { attempts: 2, initialDelayMs: 20, maxDelayMs: 50 }, offsetFlushMs: 200 });
  await runtime.start();
  running.push(runtime);
  await waitFor('the runtime to take on every partition', async () => (runtime.stats().partitions.length === PARTITIONS ? true : undefined));
  return runtime;
}

async function stop(runtime: Runtime): Promise<void> {
  await runtime.stop();
  running.splice(running.indexOf(runtime), 1);
}

/** `n` order ids of `prefix` on `partition`. */
function ordersOn(partition: number, prefix: string, n: number): string[] {
  const ids: string[] = [];
  for (let i = 0; ids.length < n; i += 1) if (partitionFor(`${prefix}-${i}`, PARTITIONS) === partition) ids.push(`${prefix}-${i}`);
  return ids;
}

/** The payment requests written so far, in the order they were written per partition. */
const requests = async (): Promise<string[]> =>
  (await readRecords(kafka, topics.paymentRequests, codec)).filter((r) => r.type === 'PaymentRequested').sort((a, b) => a.partition - b.partition || a.offset - b.offset).map((r) => String(r.key).split('/')[0] as string);

const requestedAll = (ids: readonly string[]) => async (): Promise<string[] | undefined> => {
  const written = await requests();
  return ids.every((id) => written.includes(id)) ? written : undefined;
};

/** Partition -> the group's committed offset of the order events (absent: none). */
async function groupOffsets(): Promise<Map<number, number>> {
  const fetched = await withAdmin(kafka, (admin) => admin.fetchOffsets({ groupId, topics: [topics.orderEvents] }));
  return new Map((fetched[0]?.partitions ?? []).filter((p) => Number(p.offset) >= 0).map((p) => [p.partition, Number(p.offset)]));
}

/** Partition -> the nextOffset of the order events' last checkpoint in the changelog (positions: 'changelog'). */
async function checkpoints(): Promise<Map<number, number>> {
  const key = checkpointKeyOf(groupId, topics.orderEvents);
  const records = (await readRecords(kafka, topics.changelog, codec)).filter((r) => r.key === key).sort((a, b) => a.offset - b.offset);
  return new Map(records.map((r) => [r.partition, Number(r.value?.nextOffset)]));
}

const endOf = async (partition: number): Promise<number> => (await endOffsets(kafka, [topics.orderEvents])).get(topics.orderEvents)?.get(partition) ?? 0;

/** Waits until partition `p`'s checkpoint is at the end of its order events and the group's offset reports it. */
const reportedAtEnd = (p: number) => async (): Promise<number | undefined> => {
  const [end, checkpoint, reported] = [await endOf(p), (await checkpoints()).get(p), (await groupOffsets()).get(p)];
  return checkpoint === end && reported === end ? end : undefined;
};

beforeAll(async () => {
  await producer.connect();
  await createFulfilmentTopics(kafka, made, PARTITIONS);
});

afterAll(async () => {
  for (const release of [...unreleased]) release();
  for (const r of [...running]) await r.stop();
  await producer.disconnect();
  await deleteFulfilmentRun(kafka, made, groupId);
});

describe('the stateful runtime with its fetch decoupled from deciding', () => {
  it('a task held on one input does not stall the others; a partition with too much waiting is paused and resumed', async () => {
    const runtime = await start({ maxQueued: 20, maxPerRound: 5 });
    const pause = jest.spyOn(runtime.consumer, 'pause');
    const resume = jest.spyOn(runtime.consumer, 'resume');
    const slow = ordersOn(0, 'o-slow', 1)[0] as string;
    const release = hold(slow);
    await produceEnvelopes(producer, codec, orderEvents, [order(slow)]);
    await waitFor('the held task to ask for the facts of its order', async () => (held.has(slow) && runtime.stats().inputsDecided === 0 ? true : undefined));
    // Behind the held order, more than maxQueued on its partition; after it, orders on every other partition.
    const behind = ordersOn(0, 'o-behind', 60);
    const others = [1, 2, 3, 4, 5].flatMap((p) => ordersOn(p, `o-other-${p}`, 3));
    await produceEnvelopes(producer, codec, orderEvents, behind.map((o) => order(o)));
    await produceEnvelopes(producer, codec, orderEvents, others.map((o) => order(o)));

    const whileHeld = await waitFor('the other partitions\' orders to be decided while partition 0 waits', requestedAll(others));
    expect(whileHeld.filter((id) => id === slow || behind.includes(id))).toEqual([]);
    await waitFor('partition 0 to be paused', async () => (pause.mock.calls.some(([topic, partition]) => topic === topics.orderEvents && partition === 0) ? true : undefined));
    expect(resume.mock.calls.filter(([topic, partition]) => topic === topics.orderEvents && partition === 0)).toEqual([]);

    release();
    const all = await waitFor('every order of partition 0 to be decided', requestedAll([slow, ...behind]));
    await waitFor('partition 0 to be resumed', async () => (resume.mock.calls.some(([topic, partition]) => topic === topics.orderEvents && partition === 0) ? true : undefined));
    // Once each, partition 0's in the order they were produced.
    expect([...countBy(all, (id) => id).values()].every((n) => n === 1)).toBe(true);
    expect(all.filter((id) => id === slow || behind.includes(id))).toEqual([slow, ...behind]);
    await stop(runtime);
  });

  it('a fenced transaction restores the task and rewinds the consumer: every input is decided exactly once', async () => {
    const runtime = await start();
    const rewind = jest.spyOn(runtime.consumer, 'rewind');
    const partition = 2;
    // Someone else takes the task's transactional id: the runtime's producer is now a zombie.
    const intruder = await fencedProducer(kafka, `${groupId}.${partition}`);
    const fenced = ordersOn(partition, 'o-fenced', 30);
    for (let i = 0; i < fenced.length; i += 10) await produceEnvelopes(producer, codec, orderEvents, fenced.slice(i, i + 10).map((o) => order(o)));
    const all = await waitFor('every order of the fenced partition to be requested', requestedAll(fenced));
    expect(runtime.stats().transactionsFailed).toBeGreaterThanOrEqual(1);
    expect(rewind.mock.calls.some(([topic, p]) => topic === topics.orderEvents && p === partition)).toBe(true);
    expect(all.filter((id) => fenced.includes(id))).toEqual(fenced);
    await intruder.disconnect();
    await stop(runtime);
  });

  it('a decision that throws is dead-lettered and the rest of its batch decided; a failing lookup is retried in order', async () => {
    const runtime = await start();
    const partition = 4;
    const [before, poison, after, retried, last] = [...ordersOn(partition, 'o-batch', 1), ...ordersOn(partition, 'o-poison', 1), ...ordersOn(partition, 'o-late', 3)] as [string, string, string, string, string];
    const inOrder = [before, after, retried, last];
    failing.set(retried, 2);
    // One send: the poison in the middle of a batch.
    await produceEnvelopes(producer, codec, orderEvents, [before, poison, after, retried, last].map((o) => order(o)));
    const all = await waitFor('the other orders of the batch to be requested', requestedAll(inOrder));
    expect(all.filter((id) => inOrder.includes(id) || id === poison)).toEqual(inOrder);
    expect(failing.get(retried)).toBe(0);
    const dead = await waitFor('the poison to be dead-lettered', async () => {
      const found = (await readRecords(kafka, dlqTopicName(topics.orderEvents))).filter((d) => String(d.key).startsWith(`${poison}/`));
      return found.length > 0 ? found : undefined;
    });
    expect(dead.map((d) => d.headers['dlq-reason'])).toEqual(['processing-failed']);
    expect(runtime.stats().deadLettered).toBe(1);
    await stop(runtime);
  });

  it('with positions in the changelog, the group is told what the transactions committed, never what waits in the queue', async () => {
    const runtime = await start({}, 'changelog');
    const [p, q] = [3, 1];
    const [first] = ordersOn(p, 'o-lag-first', 1) as [string];
    await produceEnvelopes(producer, codec, orderEvents, [order(first)]);
    await waitFor('the first order to be requested', requestedAll([first]));
    const decided = await waitFor('partition p\'s checkpoint to reach its end and be reported', reportedAtEnd(p));

    // Held on its next order, with more behind it: all fetched and queued, none decided.
    const [slow] = ordersOn(p, 'o-lag-slow', 1) as [string];
    const behind = ordersOn(p, 'o-lag-behind', 10);
    const release = hold(slow);
    const read = runtime.consumer.stats.records;
    await produceEnvelopes(producer, codec, orderEvents, [slow, ...behind].map((o) => order(o)));
    await waitFor('the held partition\'s orders to be queued', async () => (runtime.consumer.stats.records >= read + 1 + behind.length ? true : undefined));
    expect(await endOf(p)).toBe(decided + 1 + behind.length);
    // An order on another partition, decided and reported after those were queued: a report was made meanwhile.
    const [other] = ordersOn(q, 'o-lag-other', 1) as [string];
    await produceEnvelopes(producer, codec, orderEvents, [order(other)]);
    await waitFor('the other partition\'s order to be decided and reported', reportedAtEnd(q));
    expect((await groupOffsets()).get(p)).toBe(decided);
    expect((await checkpoints()).get(p)).toBe(decided);
    expect((await requests()).filter((id) => id === slow || behind.includes(id))).toEqual([]);

    // Released: decided, committed, and only then reported.
    release();
    const end = await waitFor('the held partition\'s checkpoint to reach its end and be reported', reportedAtEnd(p));
    expect(end).toBe(decided + 1 + behind.length);
    const all = await requests();
    expect(all.filter((id) => id === slow || behind.includes(id))).toEqual([slow, ...behind]);
    await stop(runtime);
  });
});
