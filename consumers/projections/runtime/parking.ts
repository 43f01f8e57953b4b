// Parking by aggregate (docs/read-side.md#parked-aggregates): once an event of
// an aggregate is dead-lettered by a projector, the aggregate's later events
// in that read model are recorded instead of applied, so the read model stops
// at the aggregate's last good version instead of applying later events over
// the gap; every other aggregate keeps flowing.
//
// The parked state lives in the read model's own keyspace and is written by
// the same Lua call as the batch and its checkpoint (redis-batch.ts), as one
// more guarded write per parked event:
//   parked                       hash aggregateId -> ParkedAggregate (JSON)
//   parked-chain:<aggregateId>   hash "<topic>:<partition>:<offset>" -> ParkedEvent (JSON)
//   parked-v:<aggregateId>       highest version parked
// The parking write's version key is `parked-v`, not the read model's version
// key, so the version guard makes parking idempotent (a redelivered event is
// not parked twice) without moving the aggregate's applied version. Each
// parking write also sets the aggregate's `parked` entry, so an event parked
// while a redrive empties the chain keeps the aggregate visibly parked.
//
// This file is pure: what to write and how to read it back.
import type { IHeaders } from 'kafkajs';
import { parkedChainKey, parkedKey, parkedVersionKey, type ReadModelName } from '../shared/keys';
import type { DecodedRecord } from './event-consumer';
import type { GuardedWrite } from './redis-batch';

/** Where an event was read. */
export interface EventPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** One event recorded in a parked chain: the dead-lettered head, or an event parked behind it. */
export interface ParkedEvent extends EventPosition {
  /** `head`: the event that was dead-lettered; `behind`: a later event of the aggregate, recorded and not applied. */
  readonly role: 'head' | 'behind';
  readonly aggregateId: string;
  readonly eventId: string;
  readonly version: number;
  /** Short record name, e.g. `OrderPlaced`. */
  readonly type: string;
  /** The Kafka key, base64 (null: none). */
  readonly key: string | null;
  /** The raw Kafka value (Avro with the registry's framing), base64: a redrive decodes it again with the current decoder. */
  readonly value: string;
  /** The message's headers, as text (first value of a repeated header). */
  readonly headers: Readonly<Record<string, string>>;
  /** When it was parked (ms since the epoch). */
  readonly parkedAt: number;
}

/** Why an aggregate is parked: its dead-lettered head event. */
export interface ParkedAggregate {
  readonly aggregateId: string;
  /** The dead letter's reason (`processing-failed`). */
  readonly reason: string;
  /** The error that dead-lettered the head, at most 2,000 characters. */
  readonly error: string;
  readonly head: EventPosition & { readonly eventId: string; readonly version: number; readonly type: string };
  readonly parkedAt: number;
}

/** The chain hash field of an event. */
export const chainField = (p: EventPosition): string => `${p.topic}:${p.partition}:${p.offset}`;

const text = (headers: IHeaders | undefined): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(headers ?? {})) {
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (value !== undefined) out[name] = value.toString();
  }
  return out;
};

interface Metadata {
  readonly eventId: string;
  readonly aggregateId: string;
  readonly version: number;
}

/** The metadata of a decoded event record (every event carries it). */
export function metadataOf(record: DecodedRecord): Metadata {
  return (record.value as { metadata: Metadata }).metadata;
}

/** A decoded record as a parked event. */
export function parkedEventOf(record: DecodedRecord, role: ParkedEvent['role'], parkedAt: number): ParkedEvent {
  const { eventId, aggregateId, version } = metadataOf(record);
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    role,
    aggregateId,
    eventId,
    version,
    type: record.type,
    key: record.key === null ? null : record.key.toString('base64'),
    value: (record.rawValue ?? Buffer.alloc(0)).toString('base64'),
    headers: text(record.headers),
    parkedAt,
  };
}

/** Why the aggregate of a dead-lettered head event is parked. */
export function parkedAggregateOf(head: ParkedEvent, reason: string, error: string): ParkedAggregate {
  return {
    aggregateId: head.aggregateId,
    reason,
    error: error.slice(0, 2_000),
    head: { topic: head.topic, partition: head.partition, offset: head.offset, eventId: head.eventId, version: head.version, type: head.type },
    parkedAt: head.parkedAt,
  };
}

/**
 * The guarded write that records `event` in its aggregate's chain and (re)states
 * why the aggregate is parked (`summary`: the JSON of its ParkedAggregate).
 */
export function parkingWrite(keyspace: string, model: ReadModelName, event: ParkedEvent, summary: string): GuardedWrite {
  return {
    versionKey: parkedVersionKey(keyspace, model, event.aggregateId),
    version: event.version,
    ops: [
      { op: 'hset', key: parkedChainKey(keyspace, model, event.aggregateId), fields: { [chainField(event)]: JSON.stringify(event) } },
      { op: 'hset', key: parkedKey(keyspace, model), fields: { [event.aggregateId]: summary } },
    ],
  };
}

/** Orders positions as they were read: by topic, partition, offset. */
export function byPosition(a: EventPosition, b: EventPosition): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  return a.partition - b.partition || a.offset - b.offset;
}

/** HGETALL of a chain as its events in the order they were read (unparseable entries left out). */
export function parseChain(hash: Readonly<Record<string, string>>): ParkedEvent[] {
  const events: ParkedEvent[] = [];
  for (const json of Object.values(hash)) {
    try {
      events.push(JSON.parse(json) as ParkedEvent);
    } catch {
      // not ours: leave it for a person to look at with redis-cli
    }
  }
  return events.sort(byPosition);
}

/** HGETALL of the parked hash as its aggregates, oldest parked first. */
export function parseParked(hash: Readonly<Record<string, string>>): ParkedAggregate[] {
  const out: ParkedAggregate[] = [];
  for (const json of Object.values(hash)) {
    try {
      out.push(JSON.parse(json) as ParkedAggregate);
    } catch {
      // see parseChain
    }
  }
  return out.sort((a, b) => a.parkedAt - b.parkedAt || (a.aggregateId < b.aggregateId ? -1 : 1));
}
