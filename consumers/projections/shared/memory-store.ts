// An in-memory interpreter of the write-op algebra (ops.ts) with Redis
// semantics, plus the runtime's version guard. Tests and the independent
// verifier fold events through it; the Redis runtime must produce the same
// key/value state (compare `dump()` with a dump of the real keyspace).
//
// Redis semantics kept on purpose:
// * a key has one type; an op of another type fails (WRONGTYPE);
// * a hash, set or sorted set emptied by HDEL/SREM/ZREM disappears;
// * HINCRBY creates the field at 0, fails on a non-integer, keeps "0";
// * sorted sets order by score, then by member (binary string order).
import type { WriteOp } from './ops';

interface ValueOf {
  string: string;
  hash: Map<string, string>;
  zset: Map<string, number>;
  set: Set<string>;
}
type EntryType = keyof ValueOf;
type Entry = { [T in EntryType]: { readonly type: T; readonly value: ValueOf[T] } }[EntryType];

export class WrongTypeError extends Error {
  constructor(key: string, expected: EntryType, actual: EntryType) {
    super(`WRONGTYPE ${key} holds a ${actual}, not a ${expected}`);
    this.name = 'WrongTypeError';
  }
}

/** What the version guard did with one event. */
export type GuardOutcome = 'applied' | 'skipped';

export interface ScoredMember {
  readonly member: string;
  readonly score: number;
}

/** A plain, sorted, JSON-friendly picture of the whole store, for equality checks. */
export type StoreDump = Record<string, string | Record<string, string> | ScoredMember[] | string[]>;

const byBinary = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const INTEGER = /^-?(0|[1-9][0-9]*)$/;

export class MemoryStore {
  private readonly data = new Map<string, Entry>();

  // ---- writes ---------------------------------------------------------------

  apply(op: WriteOp): void {
    switch (op.op) {
      case 'hset': {
        const hash = this.ensure(op.key, 'hash', () => new Map<string, string>());
        for (const [field, value] of Object.entries(op.fields)) hash.set(field, value);
        return;
      }
      case 'hdel': {
        const hash = this.existing(op.key, 'hash');
        if (hash === undefined) return;
        for (const field of op.fields) hash.delete(field);
        if (hash.size === 0) this.data.delete(op.key);
        return;
      }
      case 'hincrby': {
        const hash = this.ensure(op.key, 'hash', () => new Map<string, string>());
        const current = hash.get(op.field) ?? '0';
        if (!INTEGER.test(current)) throw new Error(`ERR hash value ${op.key} ${op.field} is not an integer`);
        const next = Number(current) + op.by;
        if (!Number.isSafeInteger(next)) throw new Error(`ERR increment on ${op.key} ${op.field} leaves the safe integer range`);
        hash.set(op.field, String(next));
        return;
      }
      case 'zadd':
        this.ensure(op.key, 'zset', () => new Map<string, number>()).set(op.member, op.score);
        return;
      case 'zrem': {
        const zset = this.existing(op.key, 'zset');
        if (zset === undefined) return;
        zset.delete(op.member);
        if (zset.size === 0) this.data.delete(op.key);
        return;
      }
      case 'sadd':
        this.ensure(op.key, 'set', () => new Set<string>()).add(op.member);
        return;
      case 'srem': {
        const set = this.existing(op.key, 'set');
        if (set === undefined) return;
        set.delete(op.member);
        if (set.size === 0) this.data.delete(op.key);
        return;
      }
      case 'setJson':
        this.data.set(op.key, { type: 'string', value: JSON.stringify(op.value) });
        return;
      case 'del':
        this.data.delete(op.key);
        return;
      default: {
        const unknown: never = op;
        throw new Error(`unknown op ${JSON.stringify(unknown)}`);
      }
    }
  }

  applyAll(ops: readonly WriteOp[]): void {
    for (const op of ops) this.apply(op);
  }

  /**
   * The runtime's version guard, as the Lua script will do it: apply `ops` and
   * record `version` only when it is newer than the version recorded under
   * `versionKey`; otherwise change nothing. Versions are recorded as strings,
   * as in Redis.
   */
  applyGuarded(versionKey: string, version: number, ops: readonly WriteOp[]): GuardOutcome {
    if (!Number.isSafeInteger(version) || version < 1) throw new Error(`version ${version} of ${versionKey} is not a positive integer`);
    if (version <= this.version(versionKey)) return 'skipped';
    this.applyAll(ops);
    this.data.set(versionKey, { type: 'string', value: String(version) });
    return 'applied';
  }

  // ---- reads (named after the Redis commands the query side will use) -------

  /** Recorded version under a guard key; 0 when none. */
  version(versionKey: string): number {
    const raw = this.get(versionKey);
    return raw === null ? 0 : Number(raw);
  }

  get(key: string): string | null {
    return this.existing(key, 'string') ?? null;
  }

  getJson(key: string): unknown {
    const raw = this.get(key);
    return raw === null ? null : (JSON.parse(raw) as unknown);
  }

  hgetall(key: string): Record<string, string> {
    const hash = this.existing(key, 'hash');
    return hash === undefined ? {} : Object.fromEntries([...hash.entries()].sort(([a], [b]) => byBinary(a, b)));
  }

  hget(key: string, field: string): string | null {
    return this.existing(key, 'hash')?.get(field) ?? null;
  }

  smembers(key: string): string[] {
    const set = this.existing(key, 'set');
    return set === undefined ? [] : [...set].sort(byBinary);
  }

  /** ZRANGE key start stop WITHSCORES (ascending; inclusive, negative indexes count from the end). */
  zrangeWithScores(key: string, start = 0, stop = -1): ScoredMember[] {
    return sliceInclusive(this.sortedZset(key), start, stop);
  }

  /** ZRANGE key start stop REV (descending by score, then by member, as Redis does). */
  zrevrange(key: string, start = 0, stop = -1): string[] {
    return sliceInclusive([...this.sortedZset(key)].reverse(), start, stop).map((e) => e.member);
  }

  zcard(key: string): number {
    return this.existing(key, 'zset')?.size ?? 0;
  }

  /** Every key, sorted; optionally only those starting with a prefix. */
  keys(prefix = ''): string[] {
    return [...this.data.keys()].filter((k) => k.startsWith(prefix)).sort(byBinary);
  }

  dump(prefix = ''): StoreDump {
    const out: StoreDump = {};
    for (const key of this.keys(prefix)) {
      const entry = this.data.get(key);
      if (entry === undefined) continue;
      switch (entry.type) {
        case 'string':
          out[key] = entry.value;
          break;
        case 'hash':
          out[key] = this.hgetall(key);
          break;
        case 'zset':
          out[key] = this.zrangeWithScores(key);
          break;
        case 'set':
          out[key] = this.smembers(key);
          break;
      }
    }
    return out;
  }

  // ---- internals ------------------------------------------------------------

  private sortedZset(key: string): ScoredMember[] {
    const zset = this.existing(key, 'zset');
    if (zset === undefined) return [];
    return [...zset.entries()]
      .map(([member, score]) => ({ member, score }))
      .sort((a, b) => a.score - b.score || byBinary(a.member, b.member));
  }

  private existing<T extends EntryType>(key: string, type: T): ValueOf[T] | undefined {
    const entry = this.data.get(key);
    if (entry === undefined) return undefined;
    if (entry.type !== type) throw new WrongTypeError(key, type, entry.type);
    return entry.value as ValueOf[T];
  }

  private ensure<T extends 'hash' | 'zset' | 'set'>(key: string, type: T, create: () => ValueOf[T]): ValueOf[T] {
    const current = this.existing(key, type);
    if (current !== undefined) return current;
    const value = create();
    this.data.set(key, { type, value } as unknown as Entry);
    return value;
  }
}

function sliceInclusive<T>(items: readonly T[], start: number, stop: number): T[] {
  const n = items.length;
  const from = Math.max(start < 0 ? n + start : start, 0);
  const to = Math.min(stop < 0 ? n + stop : stop, n - 1);
  return from > to ? [] : items.slice(from, to + 1);
}
