// Headers → command metadata: Idempotency-Key, If-Match and X-Correlation-Id,
// and the deterministic ids derived from an Idempotency-Key.
//
// Pure apart from hashing: no express, no clock, no randomness (time and fresh
// ids come in as arguments).
import { createHash } from 'node:crypto';
import type { Actor, CommandMetadata } from '../../schemas/generated/types';
import { MAX_EXACT_LONG } from '../../schemas/validation';
import type { FieldProblem } from './request-fields';

/** The headers this module reads, lower-cased as node delivers them. */
export type RequestHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

export interface CommandHeaders {
  /** The client's Idempotency-Key, if it sent one. */
  readonly idempotencyKey: string | undefined;
  /** From If-Match; null when absent. */
  readonly expectedVersion: number | null;
  /** From X-Correlation-Id when it is usable; otherwise the command id is used. */
  readonly correlationId: string | undefined;
}

// 1-128 printable ASCII characters (space to tilde); node has already trimmed
// surrounding whitespace.
const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,128}$/;
// Correlation ids travel in Kafka headers and log lines: no spaces.
const CORRELATION_ID = /^[\x21-\x7e]{1,128}$/;
// A version as a bare number or a strong entity tag: 3 or "3". No W/ (If-Match
// uses strong comparison), no `*`, no lists.
const IF_MATCH = /^(?:"(\d{1,16})"|(\d{1,16}))$/;

function single(headers: RequestHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : (value as string | undefined);
}

/** Reads and validates the command headers, recording problems under `headers.<Name>`. */
export function readCommandHeaders(headers: RequestHeaders, problems: FieldProblem[]): CommandHeaders {
  const idempotencyKey = single(headers, 'Idempotency-Key');
  if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
    problems.push({ field: 'headers.Idempotency-Key', message: 'must be 1-128 printable ASCII characters' });
  }

  const ifMatch = single(headers, 'If-Match')?.trim();
  let expectedVersion: number | null = null;
  if (ifMatch !== undefined) {
    const match = IF_MATCH.exec(ifMatch);
    const version = match === null ? Number.NaN : Number(match[1] ?? match[2]);
    if (Number.isSafeInteger(version) && version <= MAX_EXACT_LONG) expectedVersion = version;
    else problems.push({ field: 'headers.If-Match', message: 'must be an aggregate version: a non-negative integer, bare or quoted ("3")' });
  }

  const correlation = single(headers, 'X-Correlation-Id');
  const correlationId = correlation !== undefined && CORRELATION_ID.test(correlation) ? correlation : undefined;

  return { idempotencyKey, expectedVersion, correlationId };
}

/**
 * A stable uuid-shaped id for the given parts: the first 128 bits of
 * sha256(JSON of the parts), stamped as a version 8 (custom) RFC 9562 uuid. The
 * same parts always give the same id, so a retried request produces the same
 * command (which the processor deduplicates) aimed at the same aggregate.
 */
export function deriveId(...parts: readonly string[]): string {
  const bytes = createHash('sha256').update(JSON.stringify(parts)).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export interface CommandIds {
  readonly commandId: string;
  /** Only for routes that create an aggregate: the id of the new aggregate. */
  readonly newAggregateId: string | undefined;
}

/**
 * Ids for one request. With an Idempotency-Key they are derived from the
 * caller's subject, the route template, the route's params and the key, so the
 * same key from another principal, on another route or another aggregate is a
 * different command; without one they are fresh.
 */
export function commandIds(options: {
  readonly routePath: string;
  readonly params: Readonly<Record<string, string>>;
  readonly idempotencyKey: string | undefined;
  /** The authenticated principal's subject: two principals using the same key never collide. */
  readonly subject: string;
  readonly creates: boolean;
  readonly newId: () => string;
}): CommandIds {
  const { routePath, params, idempotencyKey, subject, creates, newId } = options;
  const scope = [subject, routePath, ...Object.keys(params).sort().flatMap((k) => [k, params[k] ?? ''])];
  if (idempotencyKey === undefined) {
    const commandId = newId();
    return { commandId, newAggregateId: creates ? newId() : undefined };
  }
  return {
    commandId: deriveId('command', ...scope, idempotencyKey),
    newAggregateId: creates ? deriveId('aggregate', ...scope, idempotencyKey) : undefined,
  };
}

export function commandMetadata(fields: {
  readonly commandId: string;
  readonly aggregateId: string;
  readonly correlationId: string;
  readonly issuedAt: number;
  readonly expectedVersion: number | null;
  /** The authenticated principal asking (null only where nobody authenticated, e.g. tests of the mapping). */
  readonly actor: Actor | null;
}): CommandMetadata {
  return {
    commandId: fields.commandId,
    aggregateId: fields.aggregateId,
    correlationId: fields.correlationId,
    issuedAt: fields.issuedAt,
    expectedVersion: fields.expectedVersion,
    actor: fields.actor === null ? null : { subject: fields.actor.subject, roles: [...fields.actor.roles] },
  };
}
