// Read models against the log: every model as Redis holds it, and as the pure
// projections fold the verifier's own reading of the events topics. A model
// equals its fold once its checkpoint is past the last event of every
// partition it reads and it is rebuilding nothing.
import type Redis from 'ioredis';
import { parseCheckpoint } from '../../consumers/projections/runtime/redis-batch';
import { READ_MODEL_SPECS } from '../../consumers/projections/runtime/read-models';
import { checkpointKey, READ_MODELS, readModelPrefix, rebuildKey, type ReadModelName } from '../../consumers/projections/shared/keys';
import { MemoryStore, type StoreDump } from '../../consumers/projections/shared/memory-store';
import { foldInto } from '../../consumers/projections/shared/projection';
import type { LoggedEvent } from './log-reader';

/** Every key under `prefix`, in MemoryStore.dump's shape. */
export async function redisDump(redis: Redis, prefix: string): Promise<StoreDump> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: StoreDump = {};
  for (const key of keys) {
    const type = await redis.type(key);
    if (type === 'string') out[key] = (await redis.get(key)) ?? '';
    else if (type === 'hash') {
      const hash = await redis.hgetall(key);
      out[key] = Object.fromEntries(Object.entries(hash).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    } else if (type === 'set') out[key] = (await redis.smembers(key)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    else if (type === 'zset') {
      const flat = await redis.zrange(key, 0, -1, 'WITHSCORES');
      const members: { member: string; score: number }[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) members.push({ member: flat[i] as string, score: Number(flat[i + 1]) });
      out[key] = members;
    }
  }
  return out;
}

/** Every model folded from the log, in the dump's shape, per partition in offset order as a projector sees them. */
export function foldedModels(events: readonly LoggedEvent[], keyspace: string): Record<ReadModelName, StoreDump> {
  const out: Partial<Record<ReadModelName, StoreDump>> = {};
  for (const model of READ_MODELS) {
    const store = new MemoryStore();
    for (const topic of READ_MODEL_SPECS[model].topics) {
      const mine = events.filter((e) => e.topic === topic).sort((a, b) => a.partition - b.partition || a.offset - b.offset);
      foldInto(store, READ_MODEL_SPECS[model].projection, keyspace, mine.map((e) => ({ event: { type: e.type, data: e.data }, metadata: e.metadata })));
    }
    out[model] = store.dump(readModelPrefix(keyspace, model));
  }
  return out as Record<ReadModelName, StoreDump>;
}

/** A model as Redis holds it, without its checkpoint (offsets are not part of the model). */
export async function storedModel(redis: Redis, keyspace: string, model: ReadModelName): Promise<StoreDump> {
  const dump = await redisDump(redis, readModelPrefix(keyspace, model));
  delete dump[checkpointKey(keyspace, model)];
  return dump;
}

/** What keeps a model from being caught up with `events`: partitions behind, partitions rebuilding; empty when caught up. */
export async function modelBehind(redis: Redis, keyspace: string, model: ReadModelName, events: readonly LoggedEvent[]): Promise<string[]> {
  const last = new Map<string, number>();
  for (const e of events) {
    if (!READ_MODEL_SPECS[model].topics.includes(e.topic)) continue;
    const at = `${e.topic}/${e.partition}`;
    last.set(at, Math.max(last.get(at) ?? -1, e.offset));
  }
  const checkpoint = parseCheckpoint(await redis.hgetall(checkpointKey(keyspace, model)));
  const behind = [...last].filter(([at, offset]) => {
    const [topic, partition] = at.split('/') as [string, string];
    return (checkpoint.get(topic)?.get(Number(partition)) ?? 0) <= offset;
  });
  const rebuilding = Object.keys(await redis.hgetall(rebuildKey(keyspace, model)));
  return [...behind.map(([at, offset]) => `${at}@${offset}`), ...rebuilding.map((field) => `${field} rebuilding`)];
}

/** Keys whose value differs between the two dumps (missing on either side included). */
export function differingKeys(expected: StoreDump, actual: StoreDump): string[] {
  const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
  return [...keys].filter((key) => JSON.stringify(expected[key]) !== JSON.stringify(actual[key])).sort();
}
