// The one-off migration of events written before encryption (docs/privacy.md,
// "Events written before encryption"). Event topics are keyed
// <aggregateId>/<version>, so writing an event again under its own key, on its
// own partition, replaces it: once the log cleaner has run, only the sealed
// copy is left. This job reads an event topic to its end and re-writes every
// event that still carries plaintext personal data with those fields sealed,
// identical otherwise (metadata, version, headers). Sealed values are left
// alone, so running it again writes nothing.
//
// Run with the command processor stopped (it is the topic's only writer
// otherwise), then compact and rebuild the read models (blue/green): the
// projections skip a version they have applied, so their documents keep the
// old plaintext until rebuilt.
import type { IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import type { Actor, Address } from '../../schemas/generated/types';
import { FORGOTTEN, isSealed, type PersonalField } from '../../schemas/sealed';
import { actsAsOwner } from '../../producers/shared/authorization';
import type { AvroCodec } from '../../infra/kafka/codec';
import { readToEnd } from '../../infra/kafka/read-to-end';
import { seal, type DataKey } from '../../infra/privacy/crypto';

type Record_ = Readonly<Record<string, unknown>> & { readonly metadata: { readonly aggregateId: string; readonly actor: Actor | null } };

/** Turns one plaintext personal value into what is written instead: sealed, or the placeholder for a forgotten customer. */
export type Protect = (field: PersonalField, value: string) => string;

export function sealWith(key: DataKey): Protect {
  return (field, value) => seal(key, field, value);
}

/** A forgotten customer's plaintext from before encryption is not sealed but erased. */
export const erase: Protect = () => FORGOTTEN;

const plain = (value: unknown): value is string => typeof value === 'string' && !isSealed(value) && value !== FORGOTTEN;

function address(protect: Protect, value: Address): Address {
  return {
    line1: protect('address.line1', value.line1),
    line2: value.line2 === null ? null : protect('address.line2', value.line2),
    city: protect('address.city', value.city),
    postalCode: protect('address.postalCode', value.postalCode),
    country: value.country,
  };
}

/**
 * The customer whose key seals an event's personal fields: the aggregate for
 * customer events; for order events the order's customer, from the event or
 * from the OrderOpened the job read earlier in the same partition.
 */
export function ownerOf(aggregate: 'customer' | 'order', record: Record_, orderOwners: Map<string, string>): string | undefined {
  const id = record.metadata.aggregateId;
  if (aggregate === 'customer') return id;
  const customerId = record['customerId'];
  if (typeof customerId === 'string') orderOwners.set(id, customerId);
  return orderOwners.get(id);
}

/** The record with its plaintext personal fields protected, or undefined when it has none. */
export function sealRecord(type: string, record: Record_, protect: Protect): Record_ | undefined {
  switch (type) {
    case 'CustomerSignedUp': {
      const { name, email } = record;
      if (!plain(name) && !plain(email)) return undefined;
      return { ...record, name: plain(name) ? protect('name', name) : name, email: plain(email) ? protect('email', email) : email };
    }
    case 'CustomerNameChanged':
      return plain(record['name']) ? { ...record, name: protect('name', record['name']) } : undefined;
    case 'DeliveryAddressAdded':
    case 'DeliveryAddressSet': {
      const value = record['address'] as Address;
      return plain(value.line1) ? { ...record, address: address(protect, value) } : undefined;
    }
    case 'OrderPlaced': {
      const value = record['deliveryAddress'] as Address | null;
      return value !== null && plain(value.line1) ? { ...record, deliveryAddress: address(protect, value) } : undefined;
    }
    case 'OrderCancelled': {
      // Only a customer's own words are theirs; staff's and the system's reasons stay readable.
      const actor = record.metadata.actor;
      if (!plain(record['reason']) || actor === null || !actsAsOwner(actor, 'CancelOrder')) return undefined;
      return { ...record, reason: protect('reason', record['reason']) };
    }
    default:
      return undefined;
  }
}

export interface MigrationReport {
  readonly read: number;
  readonly rewritten: number;
}

/**
 * Re-writes the events of `topic` that carry plaintext personal data, sealed
 * with their customer's key (`protectFor`: `sealWith(key)`, or `erase` for a
 * customer already forgotten).
 */
export async function migrateEventTopic(
  kafka: Kafka,
  codec: AvroCodec,
  source: { readonly topic: string; readonly aggregate: 'customer' | 'order' },
  protectFor: (customerId: string) => Promise<Protect>,
): Promise<MigrationReport> {
  const { topic, aggregate } = source;
  // Only the latest copy of each event counts: earlier ones (plaintext already re-written) wait for the cleaner.
  const latest = new Map<string, { readonly partition: number; readonly offset: number; readonly message: KafkaMessage }>();
  const { records } = await readToEnd(kafka, [{ topic }], async ({ partition, message }) => {
    latest.set(`${partition}:${message.key?.toString() ?? ''}`, { partition, offset: Number(message.offset), message });
  });
  const inOrder = [...latest.values()].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const orderOwners = new Map<string, string>();
  let rewritten = 0;
  try {
    for (const { partition, message } of inOrder) {
      if (message.value === null) continue;
      const decoded = await codec.decode(message.value);
      const type = decoded.fullName.slice(decoded.fullName.lastIndexOf('.') + 1);
      const record = decoded.value as Record_;
      const owner = ownerOf(aggregate, record, orderOwners);
      if (owner === undefined) continue;
      const sealed = sealRecord(type, record, await protectFor(owner));
      if (sealed === undefined) continue;
      const headers: IHeaders = { ...message.headers };
      await producer.send({ topic, acks: -1, messages: [{ key: message.key, value: await codec.encode(topic, decoded.fullName, sealed), partition, headers }] });
      rewritten += 1;
    }
    return { read: records, rewritten };
  } finally {
    await producer.disconnect();
  }
}
