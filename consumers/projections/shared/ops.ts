// The write-op algebra every projection speaks. A projection turns one event
// (with its metadata) into a list of these declarative writes; the Redis
// runtime turns a batch of them into one MULTI/Lua round trip, and
// memory-store.ts interprets the very same ops in memory for tests and for an
// independent verifier. Each op maps to exactly one Redis command, with Redis
// semantics (an emptied hash/set/zset disappears, HINCRBY keeps a "0").
//
// Values are strings as in Redis; a whole document is stored as JSON with
// `setJson` (plain SET of JSON.stringify(value)).

/**
 * A value `setJson` stores with JSON.stringify: plain data (objects, arrays,
 * strings, finite numbers, booleans, null), no undefined, functions or Dates.
 * Typed loosely as `object` so that read-model interfaces fit without an
 * index signature; the memory store round-trips it through JSON like Redis.
 */
export type JsonDocument = object | string | number | boolean | null;

export type WriteOp =
  /** HSET key field value [field value ...] */
  | { readonly op: 'hset'; readonly key: string; readonly fields: Readonly<Record<string, string>> }
  /** HDEL key field [field ...] */
  | { readonly op: 'hdel'; readonly key: string; readonly fields: readonly string[] }
  /** HINCRBY key field by (a safe integer; only safe under the version guard) */
  | { readonly op: 'hincrby'; readonly key: string; readonly field: string; readonly by: number }
  /** ZADD key score member (adds or moves the member) */
  | { readonly op: 'zadd'; readonly key: string; readonly score: number; readonly member: string }
  /** ZREM key member */
  | { readonly op: 'zrem'; readonly key: string; readonly member: string }
  /** SADD key member */
  | { readonly op: 'sadd'; readonly key: string; readonly member: string }
  /** SREM key member */
  | { readonly op: 'srem'; readonly key: string; readonly member: string }
  /** SET key JSON.stringify(value) */
  | { readonly op: 'setJson'; readonly key: string; readonly value: JsonDocument }
  /** DEL key */
  | { readonly op: 'del'; readonly key: string };

export type WriteOpName = WriteOp['op'];

/** Raised when a projection tries to build an op Redis would refuse (or silently corrupt). */
export class InvalidOpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidOpError';
  }
}

export function hset(key: string, fields: Readonly<Record<string, string>>): WriteOp {
  if (Object.keys(fields).length === 0) throw new InvalidOpError(`hset ${key}: no fields`);
  return { op: 'hset', key, fields };
}

export function hdel(key: string, ...fields: string[]): WriteOp {
  if (fields.length === 0) throw new InvalidOpError(`hdel ${key}: no fields`);
  return { op: 'hdel', key, fields };
}

export function hincrby(key: string, field: string, by: number): WriteOp {
  // HINCRBY is a signed 64-bit integer in Redis, but JS numbers are exact only up to 2^53.
  if (!Number.isSafeInteger(by)) throw new InvalidOpError(`hincrby ${key} ${field}: ${by} is not a safe integer`);
  return { op: 'hincrby', key, field, by };
}

export function zadd(key: string, score: number, member: string): WriteOp {
  if (!Number.isFinite(score)) throw new InvalidOpError(`zadd ${key} ${member}: score ${score} is not finite`);
  return { op: 'zadd', key, score, member };
}

export const zrem = (key: string, member: string): WriteOp => ({ op: 'zrem', key, member });
export const sadd = (key: string, member: string): WriteOp => ({ op: 'sadd', key, member });
export const srem = (key: string, member: string): WriteOp => ({ op: 'srem', key, member });
export const setJson = (key: string, value: JsonDocument): WriteOp => ({ op: 'setJson', key, value });
export const del = (key: string): WriteOp => ({ op: 'del', key });

/** Every key an op list touches, sorted and unique (for a Lua script's KEYS, and for cluster slot checks). */
export function keysOf(ops: readonly WriteOp[]): string[] {
  return [...new Set(ops.map((o) => o.key))].sort();
}
