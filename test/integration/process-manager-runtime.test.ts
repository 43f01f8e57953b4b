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
 *   aborted, the task restores and the input is decided exactly once.
 */
import { logLevel } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { fencedProducer } from '../../infra/kafka/transactions';
import { rootLogger } from '../../infra/logging';
import { orderFulfilmentProcess } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.process';
import { fulfilmentIds, type FulfilmentInput } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import type { PlacementFactsSource } from '../../consumers/process-managers/order-fulfilment/placement-facts';
import type { ProcessDefinition } from '../../consumers/process-managers/runtime/definition';
import { ProcessManagerRuntime } from '../../consumers/process-managers/runtime/runtime';
import type { EventMetadata, OrderFulfilmentState } from '../../schemas/generated/types';
import { partitionFor } from '../../schemas/partitioning';
import { PAYMENT_STREAM_VERSIONS } from '../../schemas/payment-stream';
import { dlqTopicName } from '../../schemas/topics';
import { testKafka, testRegistry, unique, withAdmin } from '../support/kafka';
import { waitFor } from '../support/wait-for';
import { committedUpTo, countBy, endOffsets, latestByKey, readRecords } from '../support/process-managers';
import { produceEnvelopes } from '../support/read-side';

jest.setTimeout(120_000);

const kafka = testKafka('it-process-manager', logLevel.NOTHING);
const codec = new AvroCodec(testRegistry());
const logger = rootLogger.child({ test: 'process-manager-runtime' });
logger.level = 'silent';
const PARTITIONS = 6; // the catalog's count for orders and payments
const run = unique('it-pm');
const topics = {
  orderEvents: `${run}.order.events`,
  paymentEvents: `${run}.payment.events`,
  orderCommands: `${run}.order.commands`,
  changelog: `${run}.order-fulfilment.changelog`,
};
const topicMap = {
  'restaurant.order.events': topics.orderEvents,
  'restaurant.payment.events': topics.paymentEvents,
  'restaurant.order.commands': topics.orderCommands,
  'restaurant.order-fulfilment.changelog': topics.changelog,
};
const groupId = `${run}.fulfilment`;
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

async function start(): Promise<ProcessManagerRuntime<OrderFulfilmentState, FulfilmentInput>> {
  const runtime = new ProcessManagerRuntime({ kafka, codec, logger, definition: definition(), topicMap, groupId, retry: { attempts: 2, initialDelayMs: 20, maxDelayMs: 50 }, offsetFlushMs: 200 });
  await runtime.start();
  running.push(runtime);
  return runtime;
}

async function stop(runtime: ProcessManagerRuntime<OrderFulfilmentState, FulfilmentInput>): Promise<void> {
  await runtime.stop();
  running.splice(running.indexOf(runtime), 1);
}

const meta = (orderId: string, version: number, eventId = `e-${orderId}-${version}`): EventMetadata => ({
  eventId,
  aggregateId: orderId,
  version,
  occurredAt: Date.now(),
  commandId: `c-${orderId}-${version}`,
  correlationId: `k-${orderId}`,
  causationId: `c-${orderId}-${version}`,
  actor: null,
});
const eur = (amountMinor: number) => ({ amountMinor, currency: 'EUR' });
const placed = (orderId: string, customerId = 'c-1') => ({
  event: {
    type: 'OrderPlaced',
    data: { customerId, lines: [{ menuItemId: 'm-1', menuItemName: 'Margherita', quantity: 2, unitPrice: eur(950) }], deliveryAddress: { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' }, total: eur(1900) },
  },
  metadata: meta(orderId, 4),
});
const answer = (orderId: string, type: 'PaymentAuthorized' | 'PaymentDeclined') => ({
  event: { type, data: { orderId, paymentId: fulfilmentIds.payment(orderId), amount: eur(1900), ...(type === 'PaymentDeclined' ? { reason: 'card expired' } : {}) } },
  metadata: { ...meta(orderId, PAYMENT_STREAM_VERSIONS[type], `answer-${orderId}`) },
});
const orderEvents = { topic: topics.orderEvents, schemaTopic: 'restaurant.order.events', namespace: 'restaurant.order', partitions: PARTITIONS };
const paymentEvents = { topic: topics.paymentEvents, schemaTopic: 'restaurant.payment.events', namespace: 'restaurant.payment', partitions: PARTITIONS };

const ORDERS = Array.from({ length: 20 }, (_, i) => `o-${i + 1}`);
const AUTHORIZED = ORDERS.slice(0, 10);
const DECLINED = ORDERS.slice(10, 13);
const SILENT = ORDERS.slice(13);

beforeAll(async () => {
  await producer.connect();
  await withAdmin(kafka, (admin) =>
    admin.createTopics({
      waitForLeaders: true,
      topics: [
        ...[topics.orderEvents, topics.paymentEvents, dlqTopicName(topics.orderEvents), dlqTopicName(topics.paymentEvents), topics.orderCommands].map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })),
        { topic: topics.changelog, numPartitions: PARTITIONS, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
      ],
    }),
  );
});

afterAll(async () => {
  for (const r of [...running]) await r.stop();
  await producer.disconnect();
  await withAdmin(kafka, async (admin) => {
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.deleteTopics({ topics: [...Object.values(topics), dlqTopicName(topics.orderEvents), dlqTopicName(topics.paymentEvents)] }).catch(() => undefined);
  });
});

const commands = async () => readRecords(kafka, topics.orderCommands, codec);
const statuses = async () => new Map([...latestByKey(await readRecords(kafka, topics.changelog, codec))].map(([id, r]) => [id, (r.value as unknown as OrderFulfilmentState).status]));

describe('the process-manager runtime on its own topics', () => {
  it('commits decisions, states, dead letters and offsets together, isolates poison, and fires deadlines', async () => {
    await produceEnvelopes(producer, codec, orderEvents, [...ORDERS.map((o) => placed(o)), placed('o-nobody', 'nobody'), placed('o-poison')]);
    await producer.send({ topic: topics.orderEvents, messages: [{ key: 'garbage', value: Buffer.from('not avro at all'), partition: partitionFor('garbage', PARTITIONS), headers: { 'event-type': 'OrderPlaced' } }] });
    const runtime = await start();

    const requested = await waitFor('a payment request per order that passed its checks', async () => {
      const records = (await readRecords(kafka, topics.paymentEvents, codec)).filter((r) => r.type === 'PaymentRequested');
      return records.length >= ORDERS.length ? records : undefined;
    });
    expect(requested.map((r) => r.key).sort()).toEqual(ORDERS.map((o) => `${o}/1`).sort());
    expect(requested.every((r) => r.partition === partitionFor(r.key.split('/')[0] as string, PARTITIONS))).toBe(true);

    await produceEnvelopes(producer, codec, paymentEvents, [...AUTHORIZED.map((o) => answer(o, 'PaymentAuthorized')), ...DECLINED.map((o) => answer(o, 'PaymentDeclined'))]);
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
    const outputs = await endOffsets(kafka, [topics.orderCommands, topics.paymentEvents, topics.changelog]);
    const before = await statuses();
    const runtime = await start();
    const inputs = await endOffsets(kafka, [topics.orderEvents, topics.paymentEvents]);
    await waitFor('the replay to commit every input offset', async () => ((await committedUpTo(kafka, groupId, inputs)) ? true : undefined));
    expect(runtime.stats()).toMatchObject({ instances: 21, messagesEmitted: 0, deadlinesFired: 0, inputsChanged: 0 });
    expect(runtime.stats().inputsDecided).toBeGreaterThanOrEqual(ORDERS.length + AUTHORIZED.length + DECLINED.length + 1);
    expect(await endOffsets(kafka, [topics.orderCommands, topics.paymentEvents, topics.changelog])).toEqual(outputs);
    expect(await statuses()).toEqual(before);
    await stop(runtime);
  });

  it('a fenced transaction is aborted, the partition restored, and the input decided once', async () => {
    const runtime = await start();
    const orderId = 'o-fenced';
    const partition = partitionFor(orderId, PARTITIONS);
    await waitFor('the instance to own the partition', async () => (runtime.stats().partitions.includes(partition) ? true : undefined));
    // Someone else takes the task's transactional id: the runtime's producer is now a zombie.
    const intruder = await fencedProducer(kafka, `${groupId}.${partition}`);
    await produceEnvelopes(producer, codec, orderEvents, [placed(orderId)]);
    const requests = await waitFor('the payment request of the new order', async () => {
      const found = (await readRecords(kafka, topics.paymentEvents, codec)).filter((r) => r.key === `${orderId}/1`);
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
});
