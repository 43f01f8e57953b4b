/**
 * The batch script on the real Redis is the per-event version guard of the
 * in-memory store, whatever the batch: random ops over a few aggregates and
 * keys, versions that repeat, go back and skip ahead, batches replayed and
 * overlapping, aggregates sharing keys. Each batch goes to Redis as one script
 * call (overwritten writes left out) and to the memory store one event at a
 * time; the two must end equal after every batch.
 */
import { applyBatch, encodeBatch, type GuardedWrite } from '../../consumers/projections/runtime/redis-batch';
import { MemoryStore } from '../../consumers/projections/shared/memory-store';
import { del, hdel, hincrby, hset, sadd, setJson, srem, zadd, zrem, type WriteOp } from '../../consumers/projections/shared/ops';
import { checkpointKey } from '../../consumers/projections/shared/keys';
import { seeded } from '../support/http';
import { testRedis, unique } from '../support/kafka';
import { dropKeys, parseBatchArgv, redisDump } from '../support/read-side';

const redis = testRedis();
const keyspace = unique('it-batch').toLowerCase();
const prefix = `rm:{${keyspace}}:`;

afterAll(async () => {
  await dropKeys(redis, `${prefix}*`);
  await redis.quit();
});

function randomOp(random: () => number, aggregate: number): WriteOp {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const field = pick(['a', 'b', 'c']);
  const member = pick(['x', 'y', 'z']);
  const roll = random();
  // Each key keeps one type: h* hashes, c* counters, s* sets, z* sorted sets, d* documents.
  if (roll < 0.2) return hset(`${prefix}h${aggregate}`, { [field]: String(Math.floor(random() * 100)) });
  if (roll < 0.28) return hdel(`${prefix}h${aggregate}`, field);
  if (roll < 0.4) return hincrby(`${prefix}c${Math.floor(random() * 2)}`, field, 1 + Math.floor(random() * 5));
  if (roll < 0.5) return sadd(`${prefix}s${aggregate % 2}`, member);
  if (roll < 0.56) return srem(`${prefix}s${aggregate % 2}`, member);
  if (roll < 0.66) return zadd(`${prefix}z`, Math.floor(random() * 50), `${member}${aggregate}`);
  if (roll < 0.7) return zrem(`${prefix}z`, `${member}${aggregate}`);
  if (roll < 0.9) return setJson(`${prefix}d${aggregate}`, { n: Math.floor(random() * 1000), at: aggregate });
  return del(pick([`${prefix}d${aggregate}`, `${prefix}h${aggregate}`, `${prefix}c0`]));
}

describe('the Redis batch script', () => {
  it('ends every batch exactly where the per-event guard of the memory store does', async () => {
    const store = new MemoryStore();
    const random = seeded(20251123);
    const next = [1, 1, 1, 1];
    const checkpoints = new Map<string, number>();
    let left = 0;
    for (let batch = 0; batch < 120; batch += 1) {
      const writes: GuardedWrite[] = [];
      for (let i = 0; i < 1 + Math.floor(random() * 30); i += 1) {
        const aggregate = Math.floor(random() * next.length);
        const roll = random();
        // Mostly the next version; sometimes a repeat, an older one (a replay) or a jump ahead.
        const current = next[aggregate] as number;
        const version = roll < 0.7 ? current : roll < 0.8 ? Math.max(1, current - 1) : roll < 0.9 ? Math.max(1, current - 3) : current + 2;
        next[aggregate] = Math.max(current, version + 1);
        writes.push({ versionKey: `${prefix}v${aggregate}`, version, ops: Array.from({ length: 1 + Math.floor(random() * 4) }, () => randomOp(random, aggregate)) });
      }
      const field = `t:${batch % 3}`;
      const encoded = encodeBatch(keyspace, 'orders', writes, new Map([[field, { nextOffset: batch + 1, expected: checkpoints.get(field), consumedUpTo: batch + 1 }]]));
      checkpoints.set(field, batch + 1);
      left += writes.reduce((n, w) => n + w.ops.length, 0) - parseBatchArgv(encoded.argv).e.reduce((n, [, , ops]) => n + ops.length, 0);
      const [applied, skipped] = await applyBatch(redis, encoded);
      let expectedApplied = 0;
      for (const w of writes) if (store.applyGuarded(w.versionKey, w.version, w.ops) === 'applied') expectedApplied += 1;
      expect([applied, skipped]).toEqual([expectedApplied, writes.length - expectedApplied]);
      const actual = await redisDump(redis, prefix);
      delete actual[checkpointKey(keyspace, 'orders')];
      expect(actual).toEqual(store.dump(prefix));
    }
    // The comparison covered batches where writes were really left out.
    expect(left).toBeGreaterThan(100);
  });

  it('carries any text through its one JSON argument byte for byte', async () => {
    // Quotes, backslashes, control characters, line separators, non-BMP characters, digits beyond a double.
    const awkward = ['"quoted" \\ back\\slash', 'tab\tnew\nline\u0001\u001f', 'sep\u2028\u2029', 'emoji 🍕 ñ ß 漢字', '12345678901234567890', '', ' '];
    const key = `${prefix}awkward`;
    const fields = Object.fromEntries(awkward.map((value, i) => [`f${i} ${value}`, value]));
    const writes: GuardedWrite[] = [{ versionKey: `${prefix}v-awkward`, version: 1, ops: [hset(key, fields), setJson(`${prefix}awkward-doc`, { awkward }), sadd(`${prefix}awkward-set`, awkward[3] as string)] }];
    const encoded = encodeBatch(keyspace, 'orders', writes, new Map([['awkward:0', { nextOffset: 1, expected: undefined, consumedUpTo: 1 }]]));
    expect(await applyBatch(redis, encoded)).toEqual([1, 0]);
    expect(await redis.hgetall(key)).toEqual(fields);
    expect(JSON.parse((await redis.get(`${prefix}awkward-doc`)) as string)).toEqual({ awkward });
    expect(await redis.smembers(`${prefix}awkward-set`)).toEqual([awkward[3]]);
  });
});
