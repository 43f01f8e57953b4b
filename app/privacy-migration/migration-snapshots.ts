// The one-off migration, part two: the snapshot topics (docs/privacy.md,
// "Events written before encryption"). The command processor restores an
// aggregate from its latest snapshot only; it never folds events. A tombstoned
// snapshot would therefore not be rebuilt from the events: the processor would
// take the aggregate for a new one at version 0 and write its next events over
// versions that exist. So snapshots are re-sealed in place, never tombstoned:
// each latest customer and order snapshot still holding plaintext personal
// fields is written again under its own key, on its own partition, with those
// fields sealed (or erased for a forgotten customer), identical otherwise
// (version, state, remembered replies). Run after the event topics are
// migrated and with the command processor stopped, like the rest of the job.
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { Address, CustomerSnapshot, OrderSnapshot } from '../../schemas/generated/types';
import { FORGOTTEN, isSealed } from '../../schemas/sealed';
import { CHECKPOINT_KEY_PREFIX } from '../../infra/stateful/position-store';
import type { AvroCodec } from '../../infra/kafka/codec';
import { readToEnd } from '../../infra/kafka/read-to-end';
import type { MigrationReport, Protect } from './migration';

const plain = (value: string | null): value is string => value !== null && !isSealed(value) && value !== FORGOTTEN;

export interface LatestRecord {
  readonly partition: number;
  readonly message: KafkaMessage & { readonly value: Buffer };
}

/** The latest record of every key of `topic` that is not a tombstone, in partition and offset order; and how many records were read. */
export async function latestRecords(kafka: Kafka, topic: string): Promise<{ readonly read: number; readonly latest: Map<string, LatestRecord> }> {
  const latest = new Map<string, LatestRecord & { readonly offset: number }>();
  const { records } = await readToEnd(kafka, [{ topic }], async ({ partition, message }) => {
    const key = `${partition}:${message.key?.toString() ?? ''}`;
    if (message.value === null) latest.delete(key);
    else latest.set(key, { partition, offset: Number(message.offset), message: message as KafkaMessage & { value: Buffer } });
  });
  const inOrder = [...latest.entries()].sort(([, a], [, b]) => a.partition - b.partition || a.offset - b.offset);
  return { read: records, latest: new Map(inOrder.map(([key, r]) => [key.slice(key.indexOf(':') + 1), r])) };
}

function sealAddress(protect: Protect, value: Address): Address {
  if (!plain(value.line1)) return value;
  return {
    line1: protect('address.line1', value.line1),
    line2: value.line2 === null ? null : protect('address.line2', value.line2),
    city: protect('address.city', value.city),
    postalCode: protect('address.postalCode', value.postalCode),
    country: value.country,
  };
}

/** A customer snapshot with its plaintext personal fields protected, or undefined when it has none. */
export function sealCustomerSnapshot(snapshot: CustomerSnapshot, protect: Protect): CustomerSnapshot | undefined {
  const addresses = snapshot.addresses.map((a) => ({ ...a, address: sealAddress(protect, a.address) }));
  const changed = plain(snapshot.name) || plain(snapshot.email) || addresses.some((a, i) => a.address !== snapshot.addresses[i]?.address);
  if (!changed) return undefined;
  return {
    ...snapshot,
    name: plain(snapshot.name) ? protect('name', snapshot.name) : snapshot.name,
    email: plain(snapshot.email) ? protect('email', snapshot.email) : snapshot.email,
    addresses,
  };
}

/**
 * An order snapshot with its delivery address protected, and its reason taken
 * from the order's (already migrated) cancellation or rejection event when
 * that one is sealed or erased: only a customer's own words are theirs, and
 * the event, unlike the snapshot, says who wrote them.
 */
export function sealOrderSnapshot(snapshot: OrderSnapshot, protect: Protect, eventReason: string | undefined): OrderSnapshot | undefined {
  const deliveryAddress = snapshot.deliveryAddress === null ? null : sealAddress(protect, snapshot.deliveryAddress);
  const reason = plain(snapshot.reason) && eventReason !== undefined && !plain(eventReason) ? eventReason : snapshot.reason;
  if (deliveryAddress === snapshot.deliveryAddress && reason === snapshot.reason) return undefined;
  return { ...snapshot, deliveryAddress, reason };
}

/** The latest reason of each order's OrderCancelled or OrderRejected event, as the events topic holds it now. */
async function orderReasons(kafka: Kafka, codec: AvroCodec, eventsTopic: string): Promise<Map<string, string>> {
  const reasons = new Map<string, string>();
  const { latest } = await latestRecords(kafka, eventsTopic);
  for (const { message } of latest.values()) {
    const decoded = await codec.decode(message.value);
    if (!decoded.fullName.endsWith('.OrderCancelled') && !decoded.fullName.endsWith('.OrderRejected')) continue;
    const value = decoded.value as { readonly metadata: { readonly aggregateId: string }; readonly reason: string };
    reasons.set(value.metadata.aggregateId, value.reason);
  }
  return reasons;
}

/**
 * Re-writes the latest snapshots of `topic` that hold plaintext personal data
 * (`protectFor` as for the events). For orders, `eventsTopic` is the order
 * events topic whose cancellation reasons decide which reasons are personal.
 */
export async function migrateSnapshotTopic(
  kafka: Kafka,
  codec: AvroCodec,
  source: { readonly topic: string; readonly aggregate: 'customer'; readonly eventsTopic?: undefined } | { readonly topic: string; readonly aggregate: 'order'; readonly eventsTopic: string },
  protectFor: (customerId: string) => Promise<Protect>,
): Promise<MigrationReport> {
  const { topic } = source;
  const reasons = source.aggregate === 'order' ? await orderReasons(kafka, codec, source.eventsTopic) : new Map<string, string>();
  const { read, latest } = await latestRecords(kafka, topic);
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  let rewritten = 0;
  try {
    for (const [key, { partition, message }] of latest) {
      if (key.startsWith(CHECKPOINT_KEY_PREFIX)) continue;
      const decoded = await codec.decode(message.value);
      let sealed: CustomerSnapshot | OrderSnapshot | undefined;
      if (source.aggregate === 'customer') {
        const snapshot = decoded.value as CustomerSnapshot;
        sealed = sealCustomerSnapshot(snapshot, await protectFor(snapshot.customerId));
      } else {
        const snapshot = decoded.value as OrderSnapshot;
        sealed = sealOrderSnapshot(snapshot, await protectFor(snapshot.customerId), reasons.get(snapshot.orderId));
      }
      if (sealed === undefined) continue;
      await producer.send({ topic, acks: -1, messages: [{ key: message.key, value: await codec.encode(topic, decoded.fullName, sealed), partition, headers: { ...message.headers } }] });
      rewritten += 1;
    }
    return { read, rewritten };
  } finally {
    await producer.disconnect();
  }
}
