// One batch of projected events as ONE atomic Redis call: a Lua script that
// evaluates the version guard server-side and writes the checkpoint in the
// same step.
//
// Script input (KEYS[1] is the checkpoint hash, KEYS[2] the rebuild hash;
// every other key the batch touches is declared in KEYS too, so the script
// stays legal on a cluster, where the `{keyspace}` hash tag puts them in one
// slot):
//
//   ARGV[1] = JSON {
//     t: [[keyIndex, 'hash'|'zset'|'set'|'string'], ...]   expected types, checked first
//     e: [[versionKeyIndex, 'version', [[CMD, keyIndex, arg, ...], ...]], ...]
//     c: [['<topic>:<partition>', 'nextOffset', 'expected', 'consumedUpTo'], ...]
//   }
//
// 0. Each checkpoint field must hold exactly `expected` (the value the writer
//    read or last wrote; '' = no field). Anything else means the writer's view
//    is stale: Redis lost its data (a restart without persistence), or another
//    writer moved the checkpoint. The call fails with CHECKPOINT_MISMATCH and
//    writes nothing, so no event is ever applied out of order onto a model that
//    lost its earlier events.
// 1. Every key's type is checked before anything is written: a WRONGTYPE
//    fails the whole call with nothing applied (a Lua script is atomic but
//    has no rollback, so errors must be found before the first write).
// 2. Per event, in order: if `version` > GET versionKey (missing = 0), run its
//    commands and SET versionKey version; else skip it (redelivery, replay).
// 3. The checkpoint fields move forward only (a redelivery from an earlier
//    offset does not move them back).
// 4. A partition being rebuilt from the start has a field in the rebuild hash
//    (its end offset when the rebuild began); it is removed once the consumer
//    has read up to it (`consumedUpTo` counts transaction markers, which no
//    checkpoint does).
//
// Numbers travel as strings so Lua's doubles never reformat them.
import { checkpointKey, rebuildKey, type ReadModelName } from '../shared/keys';
import { InvalidOpError, type WriteOp } from '../shared/ops';

export const APPLY_BATCH_LUA = `
local p = cjson.decode(ARGV[1])
for _, c in ipairs(p.c) do
  local stored = redis.call('HGET', KEYS[1], c[1]) or ''
  if stored ~= c[3] then
    return redis.error_reply('CHECKPOINT_MISMATCH ' .. c[1] .. ' expected "' .. c[3] .. '" but found "' .. stored .. '"')
  end
end
for _, t in ipairs(p.t) do
  local actual = redis.call('TYPE', KEYS[t[1]]).ok
  if actual ~= 'none' and actual ~= t[2] then
    return redis.error_reply('WRONGTYPE ' .. KEYS[t[1]] .. ' holds a ' .. actual .. ', not a ' .. t[2])
  end
end
local applied, skipped = 0, 0
for _, e in ipairs(p.e) do
  local vkey = KEYS[e[1]]
  local current = tonumber(redis.call('GET', vkey) or '0')
  if tonumber(e[2]) > current then
    for _, op in ipairs(e[3]) do
      redis.call(op[1], KEYS[op[2]], unpack(op, 3))
    end
    redis.call('SET', vkey, e[2])
    applied = applied + 1
  else
    skipped = skipped + 1
  end
end
for _, c in ipairs(p.c) do
  local stored = redis.call('HGET', KEYS[1], c[1])
  if not stored or tonumber(c[2]) > tonumber(stored) then
    redis.call('HSET', KEYS[1], c[1], c[2])
  end
  local target = redis.call('HGET', KEYS[2], c[1])
  if target and tonumber(c[4]) >= tonumber(target) then
    redis.call('HDEL', KEYS[2], c[1])
  end
end
return {applied, skipped}
`;

/** A partition's checkpoint in one batch: the value to write, the value the writer expects to find, how far it has read. */
export interface CheckpointWrite {
  /** The offset after the last message of the batch. */
  readonly nextOffset: number;
  /** The checkpoint the writer believes is stored (undefined: none). */
  readonly expected: number | undefined;
  /** The offset after the last record read, transaction markers included (>= nextOffset). */
  readonly consumedUpTo: number;
}

/** One event's guarded writes. */
export interface GuardedWrite {
  readonly versionKey: string;
  readonly version: number;
  readonly ops: readonly WriteOp[];
}

export interface EncodedBatch {
  readonly keys: string[];
  readonly argv: string;
}

type RedisType = 'hash' | 'zset' | 'set' | 'string';

function typeOf(op: WriteOp): RedisType | null {
  switch (op.op) {
    case 'hset':
    case 'hdel':
    case 'hincrby':
      return 'hash';
    case 'zadd':
    case 'zrem':
      return 'zset';
    case 'sadd':
    case 'srem':
      return 'set';
    case 'setJson':
      return 'string';
    case 'del':
      return null;
    default: {
      const unknown: never = op;
      throw new InvalidOpError(`unknown op ${JSON.stringify(unknown)}`);
    }
  }
}

function command(op: WriteOp): [string, ...string[]] {
  switch (op.op) {
    case 'hset':
      return ['HSET', ...Object.entries(op.fields).flat()];
    case 'hdel':
      return ['HDEL', ...op.fields];
    case 'hincrby':
      return ['HINCRBY', op.field, String(op.by)];
    case 'zadd':
      return ['ZADD', String(op.score), op.member];
    case 'zrem':
      return ['ZREM', op.member];
    case 'sadd':
      return ['SADD', op.member];
    case 'srem':
      return ['SREM', op.member];
    case 'setJson':
      return ['SET', JSON.stringify(op.value)];
    case 'del':
      return ['DEL'];
    default: {
      const unknown: never = op;
      throw new InvalidOpError(`unknown op ${JSON.stringify(unknown)}`);
    }
  }
}

/**
 * Turns a batch's guarded writes and checkpoint into the script's KEYS and
 * ARGV. Pure. Throws InvalidOpError when one key would be used as two types.
 */
export function encodeBatch(
  keyspace: string,
  readModel: ReadModelName,
  writes: readonly GuardedWrite[],
  checkpoint: ReadonlyMap<string, CheckpointWrite>,
): EncodedBatch {
  const keys: string[] = [checkpointKey(keyspace, readModel), rebuildKey(keyspace, readModel)];
  const index = new Map<string, number>(keys.map((k, i) => [k, i + 1]));
  const types = new Map<string, RedisType>(keys.map((k) => [k, 'hash']));
  const indexOf = (key: string, type: RedisType | null): number => {
    if (type !== null) {
      const known = types.get(key);
      if (known === undefined) types.set(key, type);
      else if (known !== type) throw new InvalidOpError(`${key} is written as a ${known} and as a ${type} in one batch`);
    }
    let i = index.get(key);
    if (i === undefined) {
      keys.push(key);
      i = keys.length;
      index.set(key, i);
    }
    return i;
  };
  const events = writes.map((w) => {
    if (!Number.isSafeInteger(w.version) || w.version < 1) throw new InvalidOpError(`version ${w.version} of ${w.versionKey} is not a positive integer`);
    const v = indexOf(w.versionKey, 'string');
    return [v, String(w.version), w.ops.map((op) => {
      const [cmd, ...args] = command(op);
      return [cmd, indexOf(op.key, typeOf(op)), ...args];
    })];
  });
  const t = [...types.entries()].map(([key, type]) => [index.get(key), type]);
  const c = [...checkpoint.entries()].map(([field, w]) => [field, String(w.nextOffset), w.expected === undefined ? '' : String(w.expected), String(Math.max(w.consumedUpTo, w.nextOffset))]);
  return { keys, argv: JSON.stringify({ t, e: events, c }) };
}

/** The checkpoint hash field of a topic partition. */
export const checkpointField = (topic: string, partition: number): string => `${topic}:${partition}`;

/** Parses HGETALL of a checkpoint hash into topic -> partition -> next offset. */
export function parseCheckpoint(hash: Readonly<Record<string, string>>): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  for (const [field, value] of Object.entries(hash)) {
    const colon = field.lastIndexOf(':');
    const topic = field.slice(0, colon);
    const partition = Number(field.slice(colon + 1));
    const offset = Number(value);
    if (colon <= 0 || !Number.isInteger(partition) || !Number.isSafeInteger(offset)) continue;
    const partitions = out.get(topic) ?? new Map<number, number>();
    partitions.set(partition, offset);
    out.set(topic, partitions);
  }
  return out;
}
