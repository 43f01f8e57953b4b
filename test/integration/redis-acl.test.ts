/**
 * Least privilege on Redis (docs/least-privilege.md): the ACL users of
 * app/redis-access.ts, created on the real Redis under names of this run
 * (the machine's Redis may be shared: the default user is never touched) and
 * deleted afterwards. The query API's user cannot write; a projector's user
 * cannot write another read model's keys nor publish on its channel; the
 * admin API's user repairs read models but cannot move a serving pointer; all do
 * their real work: the projector's batch script (with its checkpoint
 * notification) and the query side's reads and subscription.
 */
import Redis from 'ioredis';
import { redisAccess, redisUserName, type RedisRole } from '../../app/redis-access';
import { config } from '../../infra/config';
import { applyRedisUsers, deleteRedisUsers, urlWithUser } from '../../infra/redis/acl';
import { newPassword } from '../../infra/stack/credentials';
import { applyBatch, encodeBatch } from '../../consumers/projections/runtime/redis-batch';
import { checkpointKey } from '../../consumers/projections/shared/keys';
import { hset } from '../../consumers/projections/shared/ops';
import { testRedis, unique } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { dropKeys } from '../support/read-side';

const admin = testRedis();
const prefix = `${unique('acl-test')}.`;
const keyspace = unique('acl').toLowerCase();
const users = redisAccess(prefix);
const passwords = new Map(users.map((u) => [u.name, newPassword()]));
const connections: Redis[] = [];

function as(role: RedisRole): Redis {
  const name = redisUserName(role, prefix);
  const client = new Redis(urlWithUser(config().redis.url, name, passwords.get(name) as string), { lazyConnect: true, maxRetriesPerRequest: 1, connectionName: `acl-test:${role}` });
  connections.push(client);
  return client;
}

/** 'OK'-ish results pass through; a refusal becomes its error code (NOPERM). */
async function attempt(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
    return 'allowed';
  } catch (error) {
    return (error as Error).message.split(' ')[0] as string;
  }
}

beforeAll(async () => {
  await admin.connect();
  await applyRedisUsers(admin, users, (name) => passwords.get(name) as string);
});

afterAll(async () => {
  connections.forEach((c) => c.disconnect());
  await deleteRedisUsers(admin, users.map((u) => u.name));
  await dropKeys(admin, `rm:{${keyspace}}:*`);
  await admin.quit();
});

const key = (model: string, rest: string): string => `rm:{${keyspace}}:${model}:${rest}`;

describe('Redis ACL users', () => {
  it('are created with this run’s names only, and applying them again changes nothing', async () => {
    const listed = (await admin.call('ACL', 'USERS')) as string[];
    expect(users.every((u) => listed.includes(u.name))).toBe(true);
    const before = await admin.call('ACL', 'GETUSER', redisUserName('query', prefix));
    await applyRedisUsers(admin, users, (name) => passwords.get(name) as string);
    expect(await admin.call('ACL', 'GETUSER', redisUserName('query', prefix))).toEqual(before);
  });

  it('the query API’s user reads but cannot write anything', async () => {
    await admin.set(key('menu', 'item:1'), '{"name":"x"}');
    const query = as('query');
    await query.connect();
    expect(await query.get(key('menu', 'item:1'))).toBe('{"name":"x"}');
    expect(await attempt(() => query.set(key('menu', 'item:1'), 'y'))).toBe('NOPERM');
    expect(await attempt(() => query.hset(checkpointKey(keyspace, 'menu'), 'x', '1'))).toBe('NOPERM');
    expect(await attempt(() => query.del(key('menu', 'item:1')))).toBe('NOPERM');
    expect(await attempt(() => query.publish(checkpointKey(keyspace, 'menu'), 'x'))).toBe('NOPERM');
    expect(await attempt(() => query.flushall())).toBe('NOPERM');
    expect(await attempt(() => query.get('not-a-read-model-key'))).toBe('NOPERM');
    expect(await admin.get(key('menu', 'item:1'))).toBe('{"name":"x"}');
  });

  it('a projector’s user writes its own read model’s keys only', async () => {
    const menu = as('projector:menu');
    await menu.connect();
    expect(await attempt(() => menu.set(key('menu', 'item:2'), 'mine'))).toBe('allowed');
    expect(await attempt(() => menu.set(key('orders', 'order:1'), 'theirs'))).toBe('NOPERM');
    expect(await attempt(() => menu.hset(checkpointKey(keyspace, 'sales'), 'x', '1'))).toBe('NOPERM');
    expect(await attempt(() => menu.publish(checkpointKey(keyspace, 'orders'), 'x'))).toBe('NOPERM');
    expect(await attempt(() => menu.hset(`rm:{${keyspace}}:serving`, 'menu', 'elsewhere'))).toBe('NOPERM');
    expect(await attempt(() => menu.keys('rm:*'))).toBe('NOPERM');
    expect(await attempt(() => menu.flushdb())).toBe('NOPERM');
    // The script runs its commands as the caller: a batch that strays into another model's keys is refused whole.
    const stray = encodeBatch(keyspace, 'menu', [{ versionKey: key('menu', 'v:a'), version: 1, ops: [hset(key('kitchen', 'queue'), { a: '1' })] }], new Map([['restaurant.menu.events:0', { nextOffset: 1, expected: undefined, consumedUpTo: 1 }]]));
    await expect(applyBatch(menu, stray)).rejects.toThrow(/NOPERM/);
    expect(await admin.exists(key('kitchen', 'queue'))).toBe(0);
  });

  it('the admin API’s user repairs any read model’s keys (the redrive’s batch, without a checkpoint), reads the serving pointer and nothing else', async () => {
    const repair = as('admin-api');
    await repair.connect();
    await admin.hset(`rm:{${keyspace}}:serving`, 'orders', keyspace);
    // A redrive writes through the projector's batch script with no checkpoint (redrive.ts).
    const batch = encodeBatch(keyspace, 'orders', [{ versionKey: key('orders', 'v:order-7'), version: 3, ops: [hset(key('orders', 'order:order-7'), { status: 'placed' })] }], new Map());
    expect((await applyBatch(repair, batch))[0]).toBe(1);
    expect(await admin.hgetall(key('orders', 'order:order-7'))).toEqual({ status: 'placed' });
    expect(await attempt(() => repair.hdel(key('kitchen', 'parked'), 'order-7'))).toBe('allowed');
    expect(await repair.hget(`rm:{${keyspace}}:serving`, 'orders')).toBe(keyspace);
    expect(await attempt(() => repair.hset(`rm:{${keyspace}}:serving`, 'orders', 'elsewhere'))).toBe('NOPERM');
    expect(await attempt(() => repair.publish(checkpointKey(keyspace, 'orders'), 'x'))).toBe('NOPERM');
    expect(await attempt(() => repair.subscribe(checkpointKey(keyspace, 'orders')))).toBe('NOPERM');
    expect(await attempt(() => repair.get('not-a-read-model-key'))).toBe('NOPERM');
    expect(await attempt(() => repair.keys('rm:*'))).toBe('NOPERM');
    expect(await attempt(() => repair.flushdb())).toBe('NOPERM');
  });

  it('a projector writes a real batch with its checkpoint, and the query side sees it and is told', async () => {
    const menu = as('projector:menu');
    const query = as('query');
    const subscriber = as('query');
    await Promise.all([menu.connect(), query.connect(), subscriber.connect()]);
    const channel = checkpointKey(keyspace, 'menu');
    const heard: string[] = [];
    subscriber.on('message', (_channel: string, message: string) => heard.push(message));
    await subscriber.subscribe(channel);
    const batch = encodeBatch(keyspace, 'menu', [{ versionKey: key('menu', 'v:item-9'), version: 1, ops: [hset(key('menu', 'item:9'), { name: 'Soup' })] }], new Map([['restaurant.menu.events:0', { nextOffset: 5, expected: undefined, consumedUpTo: 5 }]]));
    await applyBatch(menu, batch);
    expect(await query.hgetall(key('menu', 'item:9'))).toEqual({ name: 'Soup' });
    expect(await query.hgetall(channel)).toEqual({ 'restaurant.menu.events:0': '5' });
    await waitFor('the checkpoint notification', async () => (heard.length > 0 ? heard : undefined), 5_000);
    expect(heard).toEqual(['restaurant.menu.events:0=5']);
  });
});
