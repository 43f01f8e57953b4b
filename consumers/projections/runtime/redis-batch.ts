// One batch of projected events as ONE atomic Redis call: a Lua script that
// evaluates the version guard server-side and writes the checkpoint in the
// same step.
//
// Script input (KEYS[1] is the checkpoint hash, KEYS[2] the rebuild hash;
// every other key the batch touches is declared in KEYS too, so the script
// stays legal on a cluster, where the `{keyspace}` hash tag puts them in one
// slot):
//
//   ARGV, flat (no JSON to build in Node or to decode in Lua):
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
import { checkpointKey, rebuildKey, type ReadModelName } from '../shared/keys';
import { InvalidOpError, type WriteOp } from '../shared/ops';

export const APPLY_BATCH_LUA = `
local a = ARGV
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
  /** Flat: see the file header. */
  readonly argv: string[];
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

/** What a later write of the same group makes of an earlier one on the same key. */
interface Overwritten {
  /** The whole key is replaced or deleted later (SET, DEL). */
  readonly whole: Set<string>;
  /** key -> hash fields set or deleted later. */
  readonly fields: Map<string, Set<string>>;
  /** key -> set or sorted-set members added or removed later. */
  readonly members: Map<string, Set<string>>;
}

const within = (map: Map<string, Set<string>>, key: string, item: string): boolean => map.get(key)?.has(item) === true;
const note = (map: Map<string, Set<string>>, key: string, item: string): void => {
  const set = map.get(key);
  if (set === undefined) map.set(key, new Set([item]));
  else set.add(item);
};

const tracker = (): Overwritten => ({ whole: new Set(), fields: new Map(), members: new Map() });

/** The op without what any of `later` overwrites anyway; null when nothing of it is left. */
function remainder(op: WriteOp, later: readonly Overwritten[]): WriteOp | null {
  // A later SET or DEL of the key replaces whatever this op did to it, counters included.
  if (later.some((l) => l.whole.has(op.key))) return null;
  const overwritten = (item: string, pick: (l: Overwritten) => Map<string, Set<string>>): boolean => later.some((l) => within(pick(l), op.key, item));
  switch (op.op) {
    case 'hset': {
      const kept = Object.entries(op.fields).filter(([field]) => !overwritten(field, (l) => l.fields));
      if (kept.length === 0) return null;
      return kept.length === Object.keys(op.fields).length ? op : { ...op, fields: Object.fromEntries(kept) };
    }
    case 'hdel': {
      const kept = op.fields.filter((field) => !overwritten(field, (l) => l.fields));
      if (kept.length === 0) return null;
      return kept.length === op.fields.length ? op : { ...op, fields: kept };
    }
    case 'zadd':
    case 'zrem':
    case 'sadd':
    case 'srem':
      return overwritten(op.member, (l) => l.members) ? null : op;
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

/** Records in `later` what `op` overwrites for the writes before it. */
function overwrites(op: WriteOp, later: Overwritten): void {
  switch (op.op) {
    case 'setJson':
    case 'del':
      later.whole.add(op.key);
      return;
    case 'hset':
      for (const field of Object.keys(op.fields)) note(later.fields, op.key, field);
      return;
    case 'hdel':
      for (const field of op.fields) note(later.fields, op.key, field);
      return;
    case 'zadd':
    case 'zrem':
    case 'sadd':
    case 'srem':
      note(later.members, op.key, op.member);
      return;
    case 'hincrby':
      return; // adds to the field; what came before still counts
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
  group.forEach((w, i) => {
    above[i] = w.version > highest;
    highest = Math.max(highest, w.version);
  });
  const later = tracker();
  const out = new Array<GuardedWrite>(group.length);
  for (let i = group.length - 1; i >= 0; i -= 1) {
    const write = group[i] as GuardedWrite;
    const own = tracker();
    const kept: WriteOp[] = [];
    for (let j = write.ops.length - 1; j >= 0; j -= 1) {
      const op = write.ops[j] as WriteOp;
      const rest = remainder(op, [later, own]);
      if (rest !== null) kept.push(rest);
      overwrites(op, own);
    }
    kept.reverse();
    if (above[i] === true) for (const op of write.ops) overwrites(op, later);
    out[i] = kept.length === write.ops.length && kept.every((op, k) => op === write.ops[k]) ? write : { ...write, ops: kept };
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
  // Positions of each aggregate's events, to thin each aggregate's writes on its own.
  const positions = new Map<string, number[]>();
  writes.forEach((w, i) => {
    if (!Number.isSafeInteger(w.version) || w.version < 1) throw new InvalidOpError(`version ${w.version} of ${w.versionKey} is not a positive integer`);
    // Types are checked on every op as written, including those left out below.
    indexOf(w.versionKey, 'string');
    for (const op of w.ops) indexOf(op.key, typeOf(op));
    const list = positions.get(w.versionKey);
    if (list === undefined) positions.set(w.versionKey, [i]);
    else list.push(i);
  });
  const thinned = [...writes];
  for (const list of positions.values()) {
    if (list.length < 2) continue;
    withoutOverwritten(list.map((i) => writes[i] as GuardedWrite)).forEach((w, k) => (thinned[list[k] as number] = w));
  }
  const argv: string[] = [String(types.size)];
  for (const [key, type] of types) argv.push(String(index.get(key)), type);
  argv.push(String(checkpoint.size));
  for (const [field, w] of checkpoint) argv.push(field, String(w.nextOffset), w.expected === undefined ? '' : String(w.expected), String(Math.max(w.consumedUpTo, w.nextOffset)));
  for (const w of thinned) {
    argv.push(String(index.get(w.versionKey)), String(w.version), String(w.ops.length));
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
