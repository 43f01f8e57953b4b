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
import { parseEventKey } from '../../../schemas/partitioning';
import type { DecodedRecord, FailedRecord } from '../../../infra/consuming/batch-sink';
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

/**
 * A dead-lettered message as a parked event: its decoded record's, or for a
 * message that could not be decoded, the aggregate and version its key names
 * (`<aggregateId>/<version>`, as events are keyed; eventId unknown: '').
 * Undefined when neither says which aggregate it belongs to.
 */
export function parkedEventOfFailed(failed: FailedRecord, role: ParkedEvent['role'], parkedAt: number): ParkedEvent | undefined {
  if (failed.record !== undefined) return parkedEventOf(failed.record, role, parkedAt);
  const { letter } = failed;
  if (letter.key === null) return undefined;
  let parsed: { aggregateId: string; version: number };
  try {
    parsed = parseEventKey(letter.key.toString());
  } catch {
    return undefined;
  }
  const headers = text(letter.headers);
  return {
    topic: letter.topic,
    partition: letter.partition,
    offset: letter.offset,
    role,
    aggregateId: parsed.aggregateId,
    eventId: '',
    version: parsed.version,
    type: headers['event-type'] ?? 'unknown',
    key: letter.key.toString('base64'),
    value: (letter.value ?? Buffer.alloc(0)).toString('base64'),
    headers,
    parkedAt,
  };
}

/** What a batch does about parking: the records to apply, and the events to park (in read order) with their aggregate's parked entry. */
export interface ParkingPlan {
  readonly live: DecodedRecord[];
  readonly park: { readonly event: ParkedEvent; readonly summary: string }[];
}

const UNKNOWN_HEAD: EventPosition = { topic: '', partition: -1, offset: -1 };

/**
 * Decides a batch's parking. `parked`: the batch's aggregates parked before it
 * (aggregateId -> the JSON of its ParkedAggregate). Each dead-lettered message
 * whose aggregate is known parks it (the first one of an aggregate is its head);
 * a record of a parked aggregate read after its head is parked behind it; the
 * rest, records read before the head included, are applied.
 */
export function planParking(records: readonly DecodedRecord[], failed: readonly FailedRecord[], parked: ReadonlyMap<string, string>, parkedAt: number): ParkingPlan {
  const heads = new Map<string, { summary: string; head: EventPosition }>();
  for (const [id, summary] of parked) {
    let head = UNKNOWN_HEAD;
    try {
      head = (JSON.parse(summary) as ParkedAggregate).head;
    } catch {
      // parked, head unknown: every record of it is parked
    }
    heads.set(id, { summary, head });
  }
  const park: { event: ParkedEvent; summary: string }[] = [];
  for (const f of [...failed].sort((a, b) => byPosition(a.letter, b.letter))) {
    const event = parkedEventOfFailed(f, 'head', parkedAt);
    if (event === undefined) continue; // no aggregate to park: in the DLQ only
    const known = heads.get(event.aggregateId);
    if (known === undefined) {
      const summary = JSON.stringify(parkedAggregateOf(event, f.letter.reason, f.letter.error));
      heads.set(event.aggregateId, { summary, head: event });
      park.push({ event, summary });
    } else park.push({ event: { ...event, role: 'behind' }, summary: known.summary });
  }
  const live: DecodedRecord[] = [];
  for (const record of records) {
    const known = heads.get(metadataOf(record).aggregateId);
    const beforeHead = known !== undefined && record.topic === known.head.topic && record.partition === known.head.partition && record.offset < known.head.offset;
    if (known === undefined || beforeHead) live.push(record);
    else park.push({ event: parkedEventOf(record, 'behind', parkedAt), summary: known.summary });
  }
  park.sort((a, b) => byPosition(a.event, b.event));
  return { live, park };
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
