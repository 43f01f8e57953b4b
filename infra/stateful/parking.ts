// Parking by process id (docs/stateful-runtime.md "Parking"): once an input of
// a process is dead-lettered (it cannot be decoded, or deciding it throws),
// the process's later inputs are recorded (parked) instead of decided, so the
// process stops at its last good state while every other process flows; an
// operator redrives it (the parked inputs decoded and decided again, in order)
// or skips an input (`npm run dlq`, the admin API).
//
// The parked inputs live on the runtime's own compacted topic beside its
// changelog (`<changelog>.parked`, schemas/topics.ts), as Avro ParkedInput
// records keyed `<processId>@<topic>:<partition>:<offset>` and written in the
// same transaction as the dead letter and the offsets; a tombstone ends one.
// Operators' ParkingRequests arrive on the same topic (keyed
// `request/<requestId>`), which the runtime consumes as one more input.
//
// This file is pure: the records and how to read them back.
import type { IHeaders } from 'kafkajs';
import type { ParkedInput as ParkedInputRecord, ParkingRequest as ParkingRequestRecord } from '../../schemas/generated/types';
import { parseEventKey } from '../../schemas/partitioning';
import type { DeadLetter } from '../consuming/dead-letters';
import type { DecodedRecord } from '../consuming/batch-sink';
import type { Outgoing } from './outgoing';

/** What a definition says about parking; present: its processes park. */
/** `S`: the definition's state, given to `refuseBehind`. */
export interface ParkingSpec<S = unknown> {
  /**
   * The process id an input's Kafka key names (undefined: none; such an input
   * is dead-lettered without parking anything). Default: the aggregate id of
   * an event key `<aggregateId>/<version>`, else the key itself.
   */
  readonly processIdOfKey?: (key: string) => string | undefined;
  /**
   * For inputs with a client waiting for their answer (commands): an input
   * read behind a parked head is refused instead of parked, answered with
   * what this returns (e.g. a reply saying the aggregate is parked), emitted
   * in the same transaction; it is not decided, now or on a redrive (the
   * client has its final answer and may send it again once the head is
   * redriven or skipped). Absent: inputs behind a head are parked.
   * `state` is the process's state as the round has it (its last good state:
   * a parked process decides nothing), undefined for none (e.g. the command
   * processor's `aggregate_parked` reply carries the aggregate's version).
   */
  refuseBehind?(record: DecodedRecord, parked: ParkedProcess, state: S | undefined): readonly Outgoing[];
  /**
   * Operators' requests are read on the input topics too (a ParkingRequest
   * there, as the command processor's tools write them to its commands
   * topic), decided in order with the inputs around them, in the round's
   * transaction with the input's position: exactly once, as those on the
   * parked topic (which are still read). No tombstone is written for them.
   */
  readonly requestsOnInput?: boolean;
}

/** One parked input, as on the parked topic (restaurant.common.ParkedInput): its role narrowed, its bytes as Node's Buffers. */
export type ParkedInput = Omit<ParkedInputRecord, 'role' | 'key' | 'value'> & {
  readonly role: 'head' | 'behind';
  readonly key: Buffer | null;
  readonly value: Buffer | null;
};

/** An operator's request (restaurant.common.ParkingRequest), its action narrowed. */
export type ParkingRequest = Omit<ParkingRequestRecord, 'action'> & { readonly action: 'redrive' | 'skip' };

/** What came of a request (recorded on restaurant.dead-letter-actions). */
export interface ParkingOutcome {
  readonly outcome: 'redriven' | 'failed' | 'not-parked' | 'skipped';
  /** The inputs acted on, as "<topic>:<partition>:<offset>". */
  readonly events: readonly string[];
  /** Inputs decided (0 for a skip). */
  readonly applied: number;
  readonly error?: string;
}

/** Why a process is parked, for stats and the tools. */
export interface ParkedProcess {
  readonly processId: string;
  readonly reason: string;
  readonly error: string;
  /** The first parked input, as "<topic>:<partition>:<offset>". */
  readonly head: string;
  readonly headType: string;
  /** Inputs parked (the head included). */
  readonly inputs: number;
  readonly parkedAt: number;
}

export const REQUEST_KEY_PREFIX = 'request/';
export const positionOf = (p: { readonly topic: string; readonly partition: number; readonly offset: number }): string => `${p.topic}:${p.partition}:${p.offset}`;
export const parkedKeyOf = (p: ParkedInput): string => `${p.processId}@${positionOf(p)}`;
export const requestKeyOf = (requestId: string): string => `${REQUEST_KEY_PREFIX}${requestId}`;

export function defaultProcessIdOfKey(key: string): string | undefined {
  if (key === '') return undefined;
  try {
    return parseEventKey(key).aggregateId;
  } catch {
    return key;
  }
}

export const processIdOf = (spec: ParkingSpec, key: Buffer | null): string | undefined => (key === null ? undefined : (spec.processIdOfKey ?? defaultProcessIdOfKey)(key.toString()));

export const textHeaders = (headers: IHeaders | undefined): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(headers ?? {})) {
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (value !== undefined) out[name] = value.toString();
  }
  return out;
};

/** A dead letter as a parked input (the head when the process is not parked yet). */
export function parkedOfLetter(processId: string, letter: DeadLetter, head: ParkedInput | undefined, parkedAt: number): ParkedInput {
  const headers = textHeaders(letter.headers);
  return {
    processId,
    role: head === undefined ? 'head' : 'behind',
    reason: head?.reason ?? letter.reason,
    error: head?.error ?? letter.error.slice(0, 2_000),
    topic: letter.topic,
    partition: letter.partition,
    offset: letter.offset,
    type: headers['event-type'] ?? 'unknown',
    key: letter.key,
    value: letter.value,
    headers,
    parkedAt,
  };
}

/** A decoded record of a parked process, recorded behind its head. */
export function parkedOfRecord(processId: string, record: DecodedRecord, head: ParkedInput, parkedAt: number): ParkedInput {
  return {
    processId,
    role: 'behind',
    reason: head.reason,
    error: head.error,
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    type: record.type,
    key: record.key,
    value: record.rawValue,
    headers: textHeaders(record.headers),
    parkedAt,
  };
}

/** True when `record` was read before the head on the head's own partition (it is decided, not parked). */
export const beforeHead = (head: ParkedInput, p: { readonly topic: string; readonly partition: number; readonly offset: number }): boolean =>
  p.topic === head.topic && p.partition === head.partition && p.offset < head.offset;

/** Orders a process's parked inputs as they were parked: the head first, then by time and position. */
export function byParking(a: ParkedInput, b: ParkedInput): number {
  if (a.role !== b.role) return a.role === 'head' ? -1 : 1;
  if (a.parkedAt !== b.parkedAt) return a.parkedAt - b.parkedAt;
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  return a.partition - b.partition || a.offset - b.offset;
}

/** The latest parked inputs per key (tombstones drop theirs), grouped by process, each in parking order. */
export function groupParked(latest: ReadonlyMap<string, ParkedInput>): Map<string, ParkedInput[]> {
  const out = new Map<string, ParkedInput[]>();
  for (const input of latest.values()) {
    const list = out.get(input.processId);
    if (list === undefined) out.set(input.processId, [input]);
    else list.push(input);
  }
  for (const list of out.values()) list.sort(byParking);
  return out;
}

export function summaryOf(list: readonly ParkedInput[]): ParkedProcess | undefined {
  const head = list[0];
  if (head === undefined) return undefined;
  return { processId: head.processId, reason: head.reason, error: head.error, head: positionOf(head), headType: head.type, inputs: list.length, parkedAt: head.parkedAt };
}

/** A ParkedInput record value as the Avro codec gives it back (bytes as Buffers, the map as an object). */
export function parkedFromRecord(value: unknown): ParkedInput {
  const v = value as Omit<ParkedInput, 'role' | 'parkedAt' | 'offset'> & { role: string; parkedAt: number | Date; offset: number | bigint };
  return {
    ...v,
    role: v.role === 'head' ? 'head' : 'behind',
    offset: Number(v.offset),
    parkedAt: v.parkedAt instanceof Date ? v.parkedAt.getTime() : Number(v.parkedAt),
  };
}

export function requestFromRecord(value: unknown): ParkingRequest {
  const v = value as Omit<ParkingRequest, 'action' | 'at'> & { action: string; at: number | Date };
  if (v.action !== 'redrive' && v.action !== 'skip') throw new Error(`unknown parking request action "${v.action}"`);
  return { ...v, action: v.action, at: v.at instanceof Date ? v.at.getTime() : Number(v.at) };
}
