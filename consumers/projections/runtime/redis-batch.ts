// One batch of projected events as ONE atomic Redis call: a Lua script that
// evaluates the version guard server-side and writes the checkpoint in the
// same step.
//
// Script input (KEYS[1] is the checkpoint hash, KEYS[2] the rebuild hash;
// every other key the batch touches is declared in KEYS too, so the script
// stays legal on a cluster, where the `{keyspace}` hash tag puts them in one
// slot):
//
//   ARGV[1]: one JSON array of strings, flat (no nested structure to build in
//   Node or to walk in Lua). Sent as one argument, it costs Node one
//   JSON.stringify instead of the client's per-argument framing (a replay's
//   batch has tens of thousands of them), and Redis one cjson.decode:
//     T, then T × (keyIndex, 'hash'|'zset'|'set'|'string')     expected types, checked first
//     C, then C × ('<topic>:<partition>', nextOffset, expected, consumedUpTo)
//     then to the end, per event:
//       versionKeyIndex, version, N, then N × (A, CMD, keyIndex, A arguments)
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
// 2. Per event, in order: if `version` is newer than the version recorded for
//    its aggregate (read once per batch, then followed in a Lua table), run its
//    commands; else skip it (redelivery, replay). Each aggregate's version is
//    written once, at the end: the per-event guard with one GET and one SET
//    per aggregate per batch instead of one each per event.
// 3. The checkpoint fields move forward only (a redelivery from an earlier
//    offset does not move them back); each move is published on the
//    checkpoint key's channel (`<topic>:<partition>=<offset>`), which wakes
//    queries waiting for a consistency token (query-api/consistency.ts).
// 4. A partition being rebuilt from the start has a field in the rebuild hash
//    (its end offset when the rebuild began); it is removed once the consumer
//    has read up to it (`consumedUpTo` counts transaction markers, which no
//    checkpoint does).
//
// A write that a later event of the same aggregate overwrites (a document set
// again, a hash field set again, a member added or removed again, a key
// deleted) is left out before encoding: whenever the earlier event is applied
// the later one is too, and it comes later in the batch, so the result is the
// same without sending and running the intermediate writes. Counters (HINCRBY)
// stay. Events keep their order: another aggregate's writes to a shared key
// run where they ran.
//
// Numbers travel as strings so Lua's doubles never reformat them.
import type Redis from 'ioredis';
import { checkpointKey, rebuildKey, type ReadModelName } from '../shared/keys';
import { InvalidOpError, type WriteOp } from '../shared/ops';

export const APPLY_BATCH_LUA = `
local a = cjson.decode(ARGV[1])
local i = 1
local types = {}
for t = 1, tonumber(a[i]) do
  types[t] = i + 1
  i = i + 2
end
i = i + 1
local checkpoints = {}
for c = 1, tonumber(a[i]) do
  checkpoints[c] = i + 1
  i = i + 4
end
i = i + 1
for _, c in ipairs(checkpoints) do
  local stored = redis.call('HGET', KEYS[1], a[c]) or ''
  if stored ~= a[c + 2] then
    return redis.error_reply('CHECKPOINT_MISMATCH ' .. a[c] .. ' expected "' .. a[c + 2] .. '" but found "' .. stored .. '"')
  end
end
for _, t in ipairs(types) do
  local key = KEYS[tonumber(a[t])]
  local actual = redis.call('TYPE', key).ok
  if actual ~= 'none' and actual ~= a[t + 1] then
    return redis.error_reply('WRONGTYPE ' .. key .. ' holds a ' .. actual .. ', not a ' .. a[t + 1])
  end
end
local reached, written = {}, {}
local applied, skipped = 0, 0
local n = #a
while i <= n do
  local v = tonumber(a[i])
  local version = tonumber(a[i + 1])
  local ops = tonumber(a[i + 2])
  local text = a[i + 1]
  i = i + 3
  local current = reached[v]
  if current == nil then
    current = tonumber(redis.call('GET', KEYS[v]) or '0')
  end
  if version > current then
    for _ = 1, ops do
      local args = tonumber(a[i])
      redis.call(a[i + 1], KEYS[tonumber(a[i + 2])], unpack(a, i + 3, i + 2 + args))
      i = i + 3 + args
    end
    reached[v] = version
    written[v] = text
    applied = applied + 1
  else
    for _ = 1, ops do
      i = i + 3 + tonumber(a[i])
    end
    reached[v] = current
    skipped = skipped + 1
  end
end
for v, version in pairs(written) do
  redis.call('SET', KEYS[v], version)
end
for _, c in ipairs(checkpoints) do
  local stored = redis.call('HGET', KEYS[1], a[c])
  if not stored or tonumber(a[c + 1]) > tonumber(stored) then
    redis.call('HSET', KEYS[1], a[c], a[c + 1])
    redis.call('PUBLISH', KEYS[1], a[c] .. '=' .. a[c + 1])
  end
  local target = redis.call('HGET', KEYS[2], a[c])
  if target and tonumber(a[c + 3]) >= tonumber(target) then
    redis.call('HDEL', KEYS[2], a[c])
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
  /** Flat: see the file header (sent as one JSON argument by `applyBatch`). */
  readonly argv: string[];
}

/** ioredis flattens the key array into the command (no spread of a huge array into a call). */
type ApplyBatch = (numKeys: number, keys: readonly string[], argv: readonly [string]) => Promise<[number, number]>;
interface RedisWithScript extends Redis {
  rmApplyBatch: ApplyBatch;
}

/** The script's one argument: the flat ARGV as one JSON array (see the file header). */
export const scriptArgument = (batch: EncodedBatch): string => JSON.stringify(batch.argv);

/** Runs an encoded batch: [events applied, events skipped by the version guard]. */
export function applyBatch(redis: Redis, batch: EncodedBatch): Promise<[number, number]> {
  if (!('rmApplyBatch' in redis)) redis.defineCommand('rmApplyBatch', { lua: APPLY_BATCH_LUA });
  return (redis as RedisWithScript).rmApplyBatch(batch.keys.length, batch.keys, [scriptArgument(batch)]);
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

/** Appends one op as (argument count, COMMAND, key index, arguments). */
function pushCommand(argv: string[], op: WriteOp, keyIndex: number): void {
  const key = String(keyIndex);
  switch (op.op) {
    case 'hset': {
      const fields = Object.entries(op.fields);
      argv.push(String(2 * fields.length), 'HSET', key);
      for (const [field, value] of fields) argv.push(field, value);
      return;
    }
    case 'hdel':
      argv.push(String(op.fields.length), 'HDEL', key, ...op.fields);
      return;
    case 'hincrby':
      argv.push('2', 'HINCRBY', key, op.field, String(op.by));
      return;
    case 'zadd':
      argv.push('2', 'ZADD', key, String(op.score), op.member);
      return;
    case 'zrem':
      argv.push('1', 'ZREM', key, op.member);
      return;
    case 'sadd':
      argv.push('1', 'SADD', key, op.member);
      return;
    case 'srem':
      argv.push('1', 'SREM', key, op.member);
      return;
    case 'setJson':
      argv.push('1', 'SET', key, JSON.stringify(op.value));
      return;
    case 'del':
      argv.push('0', 'DEL', key);
      return;
    default: {
      const unknown: never = op;
      throw new InvalidOpError(`unknown op ${JSON.stringify(unknown)}`);
    }
  }
}

/**
 * What later writes of a group overwrite for the writes before them: whole
 * keys (SET, DEL) and items of a key (hash fields; set and sorted-set members:
 * a key has one type in a batch, so one map serves both). Built once per
 * group and looked up without allocating: a replay thins every batch.
 */
class Overwritten {
  readonly whole = new Set<string>();
  readonly items = new Map<string, Set<string>>();

  has(key: string, item: string): boolean {
    return this.items.get(key)?.has(item) === true;
  }

  private item(key: string, item: string): void {
    const set = this.items.get(key);
    if (set === undefined) this.items.set(key, new Set([item]));
    else set.add(item);
  }

  /** Records what `op` overwrites for the writes before it. */
  note(op: WriteOp): void {
    switch (op.op) {
      case 'setJson':
      case 'del':
        this.whole.add(op.key);
        return;
      case 'hset':
        for (const field in op.fields) this.item(op.key, field);
        return;
      case 'hdel':
        for (const field of op.fields) this.item(op.key, field);
        return;
      case 'zadd':
      case 'zrem':
      case 'sadd':
      case 'srem':
        this.item(op.key, op.member);
        return;
      case 'hincrby':
        return; // adds to the field; what came before still counts
      default: {
        const unknown: never = op;
        throw new InvalidOpError(`unknown op ${JSON.stringify(unknown)}`);
      }
    }
  }
}

/** The op without what `later` (or `own`, the same event's later ops) overwrites anyway; null when nothing of it is left. */
function remainder(op: WriteOp, later: Overwritten, own: Overwritten | undefined): WriteOp | null {
  const key = op.key;
  // A later SET or DEL of the key replaces whatever this op did to it, counters included.
  if (later.whole.has(key) || own?.whole.has(key) === true) return null;
  const gone = (item: string): boolean => later.has(key, item) || own?.has(key, item) === true;
  switch (op.op) {
    case 'hset': {
      let total = 0;
      let overwritten = 0;
      for (const field in op.fields) {
        total += 1;
        if (gone(field)) overwritten += 1;
      }
      if (overwritten === 0) return op;
      if (overwritten === total) return null;
      const fields: Record<string, string> = {};
      for (const field in op.fields) if (!gone(field)) fields[field] = op.fields[field] as string;
      return { ...op, fields };
    }
    case 'hdel': {
      if (!op.fields.some(gone)) return op;
      const fields = op.fields.filter((field) => !gone(field));
      return fields.length === 0 ? null : { ...op, fields };
    }
    case 'zadd':
    case 'zrem':
    case 'sadd':
    case 'srem':
      return gone(op.member) ? null : op;
    case 'hincrby':
    case 'setJson':
    case 'del':
      return op;
    default: {
      const unknown: never = op;
      throw new InvalidOpError(`unknown op ${JSON.stringify(unknown)}`);
    }
  }
}

/**
 * One aggregate's events in a batch, with every write that a later event of
 * the group overwrites left out (see the file header). Pure; keeps the events
 * (an event may end up with no writes: it still moves the version).
 *
 * Only an event whose version is above every earlier one of the group may
 * stand in for earlier writes: the guard then applies it whenever it applies
 * any earlier event (a repeated or lower version would be skipped after it).
 * Within one event, later ops overwrite earlier ones regardless.
 */
export function withoutOverwritten(group: readonly GuardedWrite[]): GuardedWrite[] {
  const above = new Array<boolean>(group.length);
  let highest = -Infinity;
  for (let i = 0; i < group.length; i += 1) {
    const version = (group[i] as GuardedWrite).version;
    above[i] = version > highest;
    if (version > highest) highest = version;
  }
  const later = new Overwritten();
  const out = new Array<GuardedWrite>(group.length);
  for (let i = group.length - 1; i >= 0; i -= 1) {
    const write = group[i] as GuardedWrite;
    // An event that stands in for earlier ones notes its ops straight into `later`
    // (its own earlier ops see them there); any other keeps them to itself.
    const own = above[i] === true ? undefined : new Overwritten();
    const notes = own ?? later;
    const ops = write.ops;
    let kept: WriteOp[] | undefined;
    for (let j = ops.length - 1; j >= 0; j -= 1) {
      const op = ops[j] as WriteOp;
      const rest = remainder(op, later, own);
      if (rest !== op && kept === undefined) kept = ops.slice(j + 1).reverse();
      if (kept !== undefined && rest !== null) kept.push(rest);
      notes.note(op);
    }
    out[i] = kept === undefined ? write : { ...write, ops: kept.reverse() };
  }
  return out;
}

/**
 * Turns a batch's guarded writes and checkpoint into the script's KEYS and
 * ARGV, in order, with the writes a later event of the same aggregate
 * overwrites left out. Pure. Throws InvalidOpError when one key would be used
 * as two types, or a version is not a positive integer.
 */
export function encodeBatch(
  keyspace: string,
  readModel: ReadModelName,
  writes: readonly GuardedWrite[],
  checkpoint: ReadonlyMap<string, CheckpointWrite>,
): EncodedBatch {
  const keys: string[] = [checkpointKey(keyspace, readModel), rebuildKey(keyspace, readModel)];
  // key -> its 1-based index in KEYS; types[index] is the type it is written as (undefined: only deleted).
  const index = new Map<string, number>([
    [keys[0] as string, 1],
    [keys[1] as string, 2],
  ]);
  const types: Array<RedisType | undefined> = [undefined, 'hash', 'hash'];
  const indexOf = (key: string, type: RedisType | null): number => {
    let i = index.get(key);
    if (i === undefined) {
      i = keys.push(key);
      index.set(key, i);
    }
    if (type !== null) {
      const known = types[i];
      if (known === undefined) types[i] = type;
      else if (known !== type) throw new InvalidOpError(`${key} is written as a ${known} and as a ${type} in one batch`);
    }
    return i;
  };
  // Each aggregate's events (by their version key's index), to thin each aggregate's writes on its own.
  const groups = new Map<number, number[]>();
  const versionIndex = new Array<number>(writes.length);
  let repeated = false;
  for (let i = 0; i < writes.length; i += 1) {
    const w = writes[i] as GuardedWrite;
    if (!Number.isSafeInteger(w.version) || w.version < 1) throw new InvalidOpError(`version ${w.version} of ${w.versionKey} is not a positive integer`);
    // Types are checked on every op as written, including those left out below.
    const v = indexOf(w.versionKey, 'string');
    versionIndex[i] = v;
    for (const op of w.ops) indexOf(op.key, typeOf(op));
    const group = groups.get(v);
    if (group === undefined) groups.set(v, [i]);
    else {
      group.push(i);
      repeated = true;
    }
  }
  let thinned = writes;
  if (repeated) {
    const copy = [...writes];
    for (const group of groups.values()) {
      if (group.length < 2) continue;
      withoutOverwritten(group.map((i) => writes[i] as GuardedWrite)).forEach((w, k) => (copy[group[k] as number] = w));
    }
    thinned = copy;
  }
  const argv: string[] = [''];
  let typed = 0;
  for (let i = 1; i < types.length; i += 1) {
    const type = types[i];
    if (type === undefined) continue;
    argv.push(String(i), type);
    typed += 1;
  }
  argv[0] = String(typed);
  argv.push(String(checkpoint.size));
  for (const [field, w] of checkpoint) argv.push(field, String(w.nextOffset), w.expected === undefined ? '' : String(w.expected), String(Math.max(w.consumedUpTo, w.nextOffset)));
  for (let i = 0; i < thinned.length; i += 1) {
    const w = thinned[i] as GuardedWrite;
    argv.push(String(versionIndex[i]), String(w.version), String(w.ops.length));
    for (const op of w.ops) pushCommand(argv, op, index.get(op.key) as number);
  }
  return { keys, argv };
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
