/**
 * The read side as users run it: real command-processor, gateway, projectors
 * and query API processes, in a keyspace of this run's own.
 *
 * (a) A seeded load of several thousand commands through the gateway (the
 *     projectors killed with SIGKILL halfway and restarted); afterwards every
 *     read model in Redis equals what an independent fold of the events topics,
 *     read from the start, gives through the pure projections.
 * (b) The same events delivered again (Kafka offsets deleted, Redis checkpoints
 *     reset to 0): the read models are unchanged, no counter doubled.
 * (d) A command followed by a query with its consistency token always sees the
 *     command's effect.
 */
import type Redis from 'ioredis';
import type { StoreDump } from '../../consumers/projections/shared/memory-store';
import { checkpointKey, READ_MODELS, type ReadModelName } from '../../consumers/projections/shared/keys';
import { projectionGroupId, READ_MODEL_SPECS } from '../../consumers/projections/runtime/read-models';
import { topicName } from '../../schemas/topics';
import { call, pool, seeded, type Reply } from '../support/http';
import { testKafka, testRedis, unique, withAdmin } from '../support/kafka';
import { actualReadModel, dropKeys, expectedReadModels, waitForReadModels, type TopicEnds } from '../support/read-side';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';

jest.setTimeout(600_000);

const kafka = testKafka('e2e-read-side');
const keyspace = unique('e2e').toLowerCase();
const env = { COMMAND_WAIT_MS: '5000', READ_MODEL_KEYSPACE: keyspace, CONSISTENCY_WAIT_MS: '5000' };
const random = seeded(20_240_310);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

let redis: Redis;
const roles: RoleProcess[] = [];
let gateway: RoleProcess;
let query: RoleProcess;
let projectors: RoleProcess;

beforeAll(async () => {
  redis = testRedis();
  await redis.connect();
  const [processor, gw, q, p] = await Promise.all([startRole('command-processor', env), startRole('gateway', env), startRole('query', env), startRole('projectors', env)]);
  roles.push(processor, gw, q, p);
  [gateway, query, projectors] = [gw, q, p];
});

afterAll(async () => {
  await Promise.all(roles.map((r) => r.stop().catch(() => null)));
  await dropKeys(redis, `rm:{${keyspace}}:*`);
  await withAdmin(kafka, (admin) => admin.deleteGroups(READ_MODELS.map((m) => projectionGroupId(m, keyspace)))).catch(() => undefined);
  await redis.quit();
});

const address = { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' };
let commands = 0;
const send = async (method: string, path: string, body?: unknown): Promise<Reply> => {
  commands += 1;
  return call(gateway.url, method, path, body);
};

/** One order's life, chosen by the seeded generator up front so the run is reproducible. */
function orderPlan(dishes: readonly string[]): (orderId: string) => Array<[string, unknown]> {
  const lines = 1 + Math.floor(random() * 3);
  const items = Array.from({ length: lines }, () => [pick(dishes), 1 + Math.floor(random() * 3)] as const);
  const removeOne = random() < 0.15;
  const fate = random();
  return (orderId) => {
    const steps: Array<[string, unknown]> = items.map(([menuItemId, quantity]) => [`/orders/${orderId}/items`, { menuItemId, quantity }]);
    if (removeOne && items[0]) steps.push([`/orders/${orderId}/items/${items[0][0]}/remove`, {}]);
    steps.push([`/orders/${orderId}/delivery-address`, { address }]);
    if (fate < 0.1) return [...steps, [`/orders/${orderId}/cancel`, { reason: 'changed my mind' }]];
    steps.push([`/orders/${orderId}/place`, {}]);
    if (fate < 0.2) return [...steps, [`/orders/${orderId}/reject`, { reason: 'kitchen closed' }]];
    steps.push([`/orders/${orderId}/confirm`, {}]);
    if (fate < 0.3) return [...steps, [`/orders/${orderId}/cancel`, { reason: 'too slow' }]];
    if (fate < 0.45) return steps; // waits in the kitchen queue
    steps.push([`/orders/${orderId}/start-preparation`, {}]);
    if (fate < 0.55) return steps;
    steps.push([`/orders/${orderId}/ready`, {}], [`/orders/${orderId}/dispatch`, {}]);
    if (fate < 0.7) return steps;
    return [...steps, [`/orders/${orderId}/deliver`, {}]];
  };
}

const verify = () => expectedReadModels(kafka, keyspace) as Promise<{ expected: Record<ReadModelName, StoreDump>; ends: TopicEnds }>;
const actual = (model: ReadModelName): Promise<StoreDump> => actualReadModel(redis, keyspace, model);
const caughtUp = (ends: TopicEnds): Promise<void> => waitForReadModels(redis, keyspace, ends);

describe('read models under load', () => {
  it('equal an independent fold of the events, also after a SIGKILL of the projectors and a full redelivery', async () => {
    const dishes: string[] = [];
    for (let i = 0; i < 12; i += 1) {
      const r = await send('POST', '/menu/items', { name: `Dish ${i}`, description: 'e2e', category: pick(['STARTER', 'MAIN', 'DESSERT', 'DRINK']), price: { amountMinor: 500 + 50 * i, currency: pick(['EUR', 'EUR', 'USD']) } });
      expect(r.status).toBe(201);
      dishes.push(r.body.aggregateId as string);
    }
    const customers: string[] = [];
    await pool(
      Array.from({ length: 20 }, (_, i) => async () => {
        const r = await send('POST', '/customers', { name: `Customer ${i}`, email: `c${i}-${keyspace}@example.com` });
        expect(r.status).toBe(201);
        const id = r.body.aggregateId as string;
        customers.push(id);
        await send('POST', `/customers/${id}/addresses`, { addressId: 'home', address });
        if (i % 3 === 0) await send('POST', `/customers/${id}/name`, { name: `Renamed ${i}` });
      }),
      8,
    );
    customers.sort();
    await send('POST', `/menu/items/${dishes[0]}/price`, { price: { amountMinor: 999, currency: 'EUR' } });
    await send('POST', `/menu/items/${dishes[1]}/sold-out`, {});

    const ORDERS = 450;
    const plans = Array.from({ length: ORDERS }, () => orderPlan(dishes));
    const owners = Array.from({ length: ORDERS }, () => pick(customers));
    let done = 0;
    let killed = false;
    await pool(
      plans.map((plan, i) => async () => {
        const opened = await send('POST', '/orders', { customerId: owners[i] });
        expect(opened.status).toBe(201);
        const orderId = opened.body.aggregateId as string;
        for (const [path, body] of plan(orderId)) {
          const r = await send('POST', path, body);
          expect([200, 202, 404, 409]).toContain(r.status); // 404/409: business rejections (a sold-out dish, a line never added)
        }
        done += 1;
        if (done === ORDERS / 2 && !killed) {
          killed = true;
          // A crash anywhere, e.g. between a batch's Redis write and its offset commit.
          await projectors.kill();
          projectors = await startRole('projectors', env);
          roles.push(projectors);
        }
      }),
      16,
    );
    await send('POST', `/menu/items/${dishes[2]}/remove`, {});
    expect(commands).toBeGreaterThan(3000);

    const { expected, ends } = await verify();
    await caughtUp(ends);
    const first = {} as Record<ReadModelName, StoreDump>;
    for (const model of READ_MODELS) {
      first[model] = await actual(model);
      expect({ model, keys: Object.keys(first[model]).length }).toEqual({ model, keys: Object.keys(expected[model]).length });
      expect(first[model]).toEqual(expected[model]);
    }
    expect(Object.keys(first.sales).length).toBeGreaterThan(0);
    expect(Object.keys(first.kitchen).length).toBeGreaterThan(0);

    // (b) everything delivered again: offsets deleted, checkpoints back to 0.
    await projectors.stop();
    await withAdmin(kafka, (admin) => admin.deleteGroups(READ_MODELS.map((m) => projectionGroupId(m, keyspace))));
    for (const model of READ_MODELS) {
      const fields = [...ends].filter(([t]) => READ_MODEL_SPECS[model].topics.includes(t)).flatMap(([t, parts]) => [...parts.keys()].map((p) => [`${t}:${p}`, '0']));
      await redis.hset(checkpointKey(keyspace, model), Object.fromEntries(fields));
    }
    projectors = await startRole('projectors', env);
    roles.push(projectors);
    await caughtUp(ends);
    for (const model of READ_MODELS) expect(await actual(model)).toEqual(first[model]);
  });
});

describe('read-your-writes', () => {
  it('a query with the token of a command always sees its effect', async () => {
    const misses: string[] = [];
    for (let i = 0; i < 25; i += 1) {
      const item = await send('POST', '/menu/items', { name: `Token dish ${i}`, description: 'rw', category: 'SIDE', price: { amountMinor: 100 + i, currency: 'EUR' } });
      expect(item.status).toBe(201);
      const token = item.body.consistencyToken as string;
      expect(typeof token).toBe('string');
      const menu = await call(query.url, 'GET', `/menu?consistency=${token}`);
      const sides = ((menu.body.categories as Array<{ category: string; items: Array<{ menuItemId: string }> }>) ?? []).find((c) => c.category === 'SIDE');
      if (menu.status !== 200 || !sides?.items.some((x) => x.menuItemId === item.body.aggregateId)) misses.push(`menu ${i}: ${menu.status}`);

      const opened = await send('POST', '/orders', { customerId: `rw-${i}` });
      const order = await call(query.url, 'GET', `/orders/${opened.body.aggregateId as string}`, undefined, { 'X-Consistency-Token': opened.body.consistencyToken as string });
      if (order.status !== 200 || order.body.status !== 'OPEN') misses.push(`order ${i}: ${order.status} ${String(order.body.status)}`);

      const added = await send('POST', `/orders/${opened.body.aggregateId as string}/items`, { menuItemId: item.body.aggregateId, quantity: 2 });
      expect(added.status).toBe(200);
      const after = await call(query.url, 'GET', `/orders/${opened.body.aggregateId as string}?consistency=${added.body.consistencyToken as string}`);
      if (((after.body.lines as unknown[]) ?? []).length !== 1) misses.push(`item ${i}`);
    }
    expect(misses).toEqual([]);
  });

  it('answers 404, 400 and pages as documented', async () => {
    expect((await call(query.url, 'GET', '/orders/no-such-order')).status).toBe(404);
    expect((await call(query.url, 'GET', '/customers/no-such-customer')).status).toBe(404);
    expect((await call(query.url, 'GET', '/customers/no-such-customer/orders')).status).toBe(404);
    expect((await call(query.url, 'GET', '/stats/sales?from=2024-03-02&to=2024-03-01')).status).toBe(400);
    expect((await call(query.url, 'GET', '/stats/items?from=2024-03-01')).status).toBe(400);
    expect((await call(query.url, 'GET', '/customers/x/orders?limit=1000')).status).toBe(400);
    expect((await call(query.url, 'GET', '/menu?consistency=!!')).status).toBe(400);
    const future = Buffer.from(JSON.stringify({ [topicName('menu', 'events')]: { 0: 1e12 } })).toString('base64url');
    const stale = await call(query.url, 'GET', `/menu?consistency=${future}`);
    expect(stale.status).toBe(503);
    expect((stale.body.error as { code: string }).code).toBe('not_yet_consistent');
    const today = new Date().toISOString().slice(0, 10);
    const sales = await call(query.url, 'GET', `/stats/sales?from=${today}&to=${today}`);
    expect(sales.status).toBe(200);
    expect(sales.body.confirmed as number).toBeGreaterThan(0);
    const kitchen = await call(query.url, 'GET', '/kitchen/queue');
    expect(kitchen.status).toBe(200);
    expect((kitchen.body.queue as unknown[]).length).toBeGreaterThan(0);
  });
});
