// The topic set of `npm run bench:state` (docs/scaling.md): the catalog's
// topics under a prefix of their own (`bench-state-<size>`, TOPIC_PREFIX for the
// roles), the order snapshot topic filled with `size` aggregates' snapshots as
// the command processor writes them: registry-encoded OrderSnapshot records of
// a delivered order with its replies, keyed and partitioned by order id.
// A topic set already holding at least `size` snapshots is reused.
//
// Generation encodes TEMPLATES snapshots once (registry header and Avro) and
// writes each aggregate as a copy of one of them with its order id put in
// place (ids have a fixed width, so the Avro lengths stay right): 5,000,000
// snapshots are then bound by the producer, not by Avro encoding.
import type { Kafka } from 'kafkajs';
import type { AvroCodec } from '../../infra/kafka/codec';
import { allTopicSpecs, applyTopics, registerSubjects } from '../../infra/kafka/topics';
import { partitionFor } from '../../schemas/partitioning';
import { TOPIC_PREFIX, topicCatalog, type TopicSpec } from '../../schemas/topics';

const SNAPSHOT_RECORD = 'restaurant.order.OrderSnapshot';
/** Records per send (~1.6 KB each: a partition's share, ~1/6, stays under the broker's 1 MB message.max.bytes); sends in flight at once. */
const BATCH = 3_000;
const IN_FLIGHT = 8;
/** Distinct encoded snapshots the aggregates are copies of. */
const TEMPLATES = 1_000;

export interface BenchTopics {
  readonly prefix: string;
  readonly snapshots: string;
  readonly commands: string;
  readonly events: string;
  readonly partitions: number;
  /** The peer's own output. */
  readonly peerReplies: string;
}

export function benchTopics(size: number, partitions: number): BenchTopics {
  const prefix = `bench-state-${size}`;
  return { prefix, snapshots: `${prefix}.order.snapshots`, commands: `${prefix}.order.commands`, events: `${prefix}.order.events`, partitions, peerReplies: `${prefix}.peer.replies` };
}

/** The catalog's topics (and DLQs) renamed under the bench's prefix. */
function specsUnder(topics: BenchTopics): TopicSpec[] {
  const catalog = topicCatalog({ partitions: topics.partitions });
  const renamed = allTopicSpecs(catalog).map((s) => ({ ...s, name: `${topics.prefix}${s.name.slice(TOPIC_PREFIX.length)}` }));
  const replies = renamed.find((s) => s.name === `${topics.prefix}.command-replies`) as TopicSpec;
  return [...renamed, { ...replies, name: topics.peerReplies, subjects: [] }];
}

const COMMANDS: ReadonlyArray<readonly [string, string]> = [
  ['OpenOrder', 'OrderOpened'],
  ['AddItemToOrder', 'ItemAddedToOrder'],
  ['AddItemToOrder', 'ItemAddedToOrder'],
  ['SetDeliveryAddress', 'DeliveryAddressSet'],
  ['PlaceOrder', 'OrderPlaced'],
  ['ConfirmOrder', 'OrderConfirmed'],
  ['StartPreparation', 'PreparationStarted'],
  ['MarkOrderReady', 'OrderReady'],
  ['DispatchOrder', 'OrderDispatched'],
  ['ConfirmDelivery', 'OrderDelivered'],
];

export const benchOrderId = (i: number): string => `order-bench-${i.toString().padStart(8, '0')}`;

/** Aggregate `i`'s snapshot: a delivered order, its 10 commands' replies remembered (the processor keeps up to 64). */
export function orderSnapshot(i: number, topics: BenchTopics, partition: number, t0: number): Record<string, unknown> {
  const orderId = benchOrderId(i);
  const line = (n: number) => ({ menuItemId: `item-${(i + n) % 200}`, menuItemName: `Dish ${(i + n) % 200}`, quantity: 1 + ((i + n) % 3), unitPrice: { amountMinor: 950 + 50 * n, currency: 'EUR' } });
  return {
    orderId,
    version: COMMANDS.length,
    customerId: `customer-${i % 100_000}`,
    status: 'DELIVERED',
    lines: [line(0), line(7)],
    deliveryAddress: { line1: `Damrak ${1 + (i % 300)}`, line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' },
    reason: null,
    recentCommands: COMMANDS.map(([commandType, eventType], v) => ({
      commandId: `c-${orderId}-${v + 1}`,
      aggregateId: orderId,
      commandType,
      status: 'ACCEPTED',
      events: [{ eventType, aggregateId: orderId, version: v + 1, topic: topics.events, partition, offset: i * COMMANDS.length + v }],
      rejectionCode: null,
      rejectionMessage: null,
      aggregateVersion: v + 1,
      processedAt: t0 + i * 1000 + v * 60_000,
    })),
  };
}

interface Template {
  /** The order id the template was encoded with. */
  readonly id: Buffer;
  readonly bytes: Buffer;
}

/** A copy of the template's encoded snapshot with every occurrence of its order id replaced by `id` (same width). */
export function withId(template: Template, id: Buffer): Buffer {
  if (id.length !== template.id.length) throw new Error(`order id ${id.toString()} is not ${template.id.length} bytes wide`);
  const copy = Buffer.from(template.bytes);
  for (let at = copy.indexOf(template.id); at !== -1; at = copy.indexOf(template.id, at + id.length)) id.copy(copy, at);
  return copy;
}

/** Sum of the snapshot partitions' end offsets (records, plus markers once the processor has written). */
async function endOffsets(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((sum, o) => sum + Number(o.high), 0);
  } finally {
    await admin.disconnect();
  }
}

export interface Generated {
  readonly reused: boolean;
  readonly ms: number;
  /** Mean bytes of a snapshot value (with the 5-byte registry header) and key. */
  readonly valueBytes: number;
  readonly keyBytes: number;
}

export async function ensureTopicSet(kafka: Kafka, codec: AvroCodec, size: number, topics: BenchTopics): Promise<Generated> {
  const t0 = Date.now();
  const specs = specsUnder(topics);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const applied = await applyTopics(admin, specs);
    if (applied.drift.length > 0) throw new Error(`the bench topics differ from the catalog: ${JSON.stringify(applied.drift)}`);
  } finally {
    await admin.disconnect();
  }
  await registerSubjects(codec, specs);
  const schemaId = await codec.schemaId(topics.snapshots, SNAPSHOT_RECORD);
  const encode = (i: number) => codec.encodeWithId(schemaId, SNAPSHOT_RECORD, orderSnapshot(i, topics, partitionFor(benchOrderId(i), topics.partitions), t0));
  const templates = Array.from({ length: TEMPLATES }, (_, n) => ({ id: Buffer.from(benchOrderId(n)), bytes: encode(n) }));
  const sample = (i: number): Buffer => withId(templates[i % TEMPLATES] as Template, Buffer.from(benchOrderId(i)));
  const valueBytes = Array.from({ length: 100 }, (_, n) => sample(n * 7919).length).reduce((a, b) => a + b, 0) / 100;
  const keyBytes = benchOrderId(size - 1).length;
  if ((await endOffsets(kafka, topics.snapshots)) >= size) return { reused: true, ms: 0, valueBytes, keyBytes };

  const producer = kafka.producer();
  await producer.connect();
  try {
    const inFlight = new Set<Promise<unknown>>();
    for (let start = 0; start < size; start += BATCH) {
      const messages = [];
      for (let i = start; i < Math.min(start + BATCH, size); i += 1) {
        const key = benchOrderId(i);
        messages.push({ key, value: sample(i), partition: partitionFor(key, topics.partitions) });
      }
      const sent = producer.send({ topic: topics.snapshots, acks: -1, messages });
      inFlight.add(sent);
      const done = (): void => void inFlight.delete(sent);
      sent.then(done, done);
      if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    await producer.disconnect();
  }
  return { reused: false, ms: Date.now() - t0, valueBytes, keyBytes };
}
