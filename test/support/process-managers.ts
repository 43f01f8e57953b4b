// Process-manager test support: read any topic back decoded (commands,
// events, changelogs alike), the latest record per key, and the offsets a
// consumer group has committed; and the order-fulfilment fixtures the
// integration tests share (a run's topics, OrderPlaced, payment answers).
import type { IHeaders, Kafka } from 'kafkajs';
import { DecodeError, type AvroCodec } from '../../infra/kafka/codec';
import { readToEnd } from '../../infra/kafka/read-to-end';
import { fulfilmentIds } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import type { EventMetadata } from '../../schemas/generated/types';
import { dlqTopicName } from '../../schemas/topics';
import { createTopicsAndWait, withAdmin } from './kafka';

export interface StoredRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  /** Short record name (`ConfirmOrder`); empty for a tombstone, raw bytes or a record that does not decode. */
  readonly type: string;
  /** Why the record did not decode (the shared topics hold other tests' poison records); absent when it did. */
  readonly undecodable?: string;
  readonly value: Record<string, unknown> | null;
  readonly headers: Readonly<Record<string, string>>;
  /** The broker's timestamp (the producer's clock). */
  readonly timestamp: number;
}

const text = (headers: IHeaders | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, (Array.isArray(v) ? v[0] : v)?.toString() ?? '']));

/**
 * Every committed record of a topic, decoded when `codec` is given (else raw: DLQs). A record that does not
 * decode (another test's poison command on a shared topic) is kept undecoded with the reason, not thrown: the
 * callers filter by their own keys, and one of theirs that does not decode shows up with an empty type.
 */
export async function readRecords(kafka: Kafka, topic: string, codec?: AvroCodec): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  await readToEnd(kafka, [{ topic }], async ({ partition, message }) => {
    let decoded: Awaited<ReturnType<AvroCodec['decode']>> | undefined;
    let undecodable: string | undefined;
    try {
      decoded = message.value !== null && codec !== undefined ? await codec.decode(message.value) : undefined;
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      undecodable = error.message;
    }
    out.push({
      ...(undecodable === undefined ? {} : { undecodable }),
      topic,
      partition,
      offset: Number(message.offset),
      key: message.key?.toString() ?? '',
      type: decoded === undefined ? '' : decoded.fullName.slice(decoded.fullName.lastIndexOf('.') + 1),
      value: decoded === undefined ? null : (decoded.value as Record<string, unknown>),
      headers: text(message.headers),
      timestamp: Number(message.timestamp),
    });
  });
  return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

/** The latest record per key (what compaction keeps), in offset order per partition. */
export function latestByKey(records: readonly StoredRecord[]): Map<string, StoredRecord> {
  const latest = new Map<string, StoredRecord>();
  for (const r of records) latest.set(r.key, r);
  return latest;
}

/** topic -> partition -> end offset (the next offset to be written). */
export async function endOffsets(kafka: Kafka, topics: readonly string[]): Promise<Map<string, Map<number, number>>> {
  return withAdmin(kafka, async (admin) => {
    const ends = new Map<string, Map<number, number>>();
    for (const topic of topics) ends.set(topic, new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)])));
    return ends;
  });
}

/** True when the group has committed every partition of `topics` up to `ends` (empty partitions count as done). */
export async function committedUpTo(kafka: Kafka, groupId: string, ends: ReadonlyMap<string, ReadonlyMap<number, number>>): Promise<boolean> {
  const committed = await withAdmin(kafka, (admin) => admin.fetchOffsets({ groupId, topics: [...ends.keys()] }));
  return [...ends].every(([topic, parts]) =>
    [...parts].every(([partition, end]) => {
      const offset = Number(committed.find((t) => t.topic === topic)?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
      return end === 0 || offset >= end;
    }),
  );
}

/** Counts records per key of `field` (e.g. how often each commandId was written). */
export function countBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(keyOf(item), (counts.get(keyOf(item)) ?? 0) + 1);
  return counts;
}

// ------------------------------------------------------------ order-fulfilment fixtures

/** The topics of a test run of order fulfilment on topics of its own, the runtime's topic map and group. */
export function fulfilmentTopics(run: string, options: { readonly parking?: boolean } = {}) {
  const topics = {
    orderEvents: `${run}.order.events`,
    paymentRequests: `${run}.payment.requests`,
    paymentResults: `${run}.payment.results`,
    orderCommands: `${run}.order.commands`,
    changelog: `${run}.order-fulfilment.changelog`,
    /** With `parking`: the runtime's parked topic and the actions topic it records redrives and skips on. */
    parked: `${run}.order-fulfilment.parked`,
    actions: `${run}.dead-letter-actions`,
  };
  const topicMap: Record<string, string> = {
    'restaurant.order.events': topics.orderEvents,
    'restaurant.payment.requests': topics.paymentRequests,
    'restaurant.payment.results': topics.paymentResults,
    'restaurant.order.commands': topics.orderCommands,
    'restaurant.order-fulfilment.changelog': topics.changelog,
    ...(options.parking === true ? { 'restaurant.order-fulfilment.parked': topics.parked, 'restaurant.dead-letter-actions': topics.actions } : {}),
  };
  return { topics, topicMap, groupId: `${run}.fulfilment`, parking: options.parking === true };
}

export type FulfilmentTopics = ReturnType<typeof fulfilmentTopics>;

const compactedOf = ({ topics, parking }: FulfilmentTopics): string[] => [topics.changelog, ...(parking ? [topics.parked] : [])];
const plainOf = ({ topics, parking }: FulfilmentTopics): string[] => [topics.orderEvents, topics.paymentResults, dlqTopicName(topics.orderEvents), dlqTopicName(topics.paymentResults), topics.orderCommands, topics.paymentRequests, ...(parking ? [topics.actions, dlqTopicName(topics.parked)] : [])];

/** Every topic createFulfilmentTopics creates for a run (to delete them after). */
export const fulfilmentTopicNames = (made: FulfilmentTopics): string[] => [...plainOf(made), ...compactedOf(made)];

/** Creates a run's topics (the compacted ones compacted), with the DLQs of the inputs. */
export async function createFulfilmentTopics(kafka: Kafka, made: FulfilmentTopics, partitions = 6): Promise<void> {
  const compacted = compactedOf(made);
  const plain = plainOf(made);
  await createTopicsAndWait(kafka, [
    ...plain.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
    ...compacted.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] })),
  ]);
}

/** After a run: its consumer group and every topic createFulfilmentTopics made, deleted (whatever is already gone is no error). */
export async function deleteFulfilmentRun(kafka: Kafka, made: FulfilmentTopics, groupId: string): Promise<void> {
  await withAdmin(kafka, async (admin) => {
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.deleteTopics({ topics: fulfilmentTopicNames(made) }).catch(() => undefined);
  });
}

/** An order event's metadata (version 4, the OrderPlaced of an order with three lines edited before). */
export const orderMeta = (orderId: string, version = 4, eventId = `e-${orderId}-${version}`): EventMetadata => ({
  eventId,
  aggregateId: orderId,
  version,
  occurredAt: Date.now(),
  commandId: `c-${orderId}-${version}`,
  correlationId: `k-${orderId}`,
  causationId: `c-${orderId}-${version}`,
  actor: null,
});

export const eur = (amountMinor: number) => ({ amountMinor, currency: 'EUR' });

/** An OrderPlaced envelope for produceEnvelopes: Margheritas at 9.50 to Dam 1. */
export const placed = (orderId: string, options: { readonly customerId?: string; readonly quantity?: number } = {}) => {
  const quantity = options.quantity ?? 2;
  return {
    event: {
      type: 'OrderPlaced',
      data: {
        customerId: options.customerId ?? 'c-1',
        lines: [{ menuItemId: 'm-1', menuItemName: 'Margherita', quantity, unitPrice: eur(950) }],
        deliveryAddress: { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' },
        total: eur(950 * quantity),
      },
    },
    metadata: orderMeta(orderId),
  };
};

/** The payment provider's answer to an order's payment request (of 19.00: two Margheritas). */
export const paymentAnswer = (orderId: string, type: 'PaymentAuthorized' | 'PaymentDeclined') => ({
  event: { type, data: { orderId, paymentId: fulfilmentIds.payment(orderId), amount: eur(1900), ...(type === 'PaymentDeclined' ? { reason: 'card expired' } : {}) } },
  // The provider's first message in the order's results stream.
  metadata: { ...orderMeta(orderId, 1, `answer-${orderId}`) },
});

/** Where produceEnvelopes writes a run's order events and the provider's payment results. */
export const orderEventsOf = (made: FulfilmentTopics, partitions = 6) => ({ topic: made.topics.orderEvents, schemaTopic: 'restaurant.order.events', namespace: 'restaurant.order', partitions });
export const paymentResultsOf = (made: FulfilmentTopics, partitions = 6) => ({ topic: made.topics.paymentResults, schemaTopic: 'restaurant.payment.results', namespace: 'restaurant.payment', partitions });
