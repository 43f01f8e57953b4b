/**
 * Replays against the real stack, with the real roles as processes and the
 * tools as users run them, in a keyspace of this run's own. Each ends with the
 * read models equal to the independent verifier's fold of the events topics:
 *
 * (a) `npm run replay -- <group> --to earliest` rebuilds models corrupted in
 *     ways only a rebuild repairs (a changed name, a counter off by 1000);
 * (b) `--to <ISO time>` delivers the events since then again and restores
 *     menu items that were lost after that time;
 * (c) Kafka's own `kafka-consumer-groups --reset-offsets --to-earliest` on the
 *     stopped groups makes the projectors redeliver from the start: lost items
 *     come back and no sales counter doubles;
 * (d) `--blue-green` builds a new keyspace while the old one keeps answering
 *     every query, switches, hands over to the projector role and drops the old.
 * And the tool refuses a running group (naming its members) and bad input.
 */
import type Redis from 'ioredis';
import { projectionGroupId } from '../../consumers/projections/runtime/read-models';
import { menuKeys } from '../../consumers/projections/menu/menu.keys';
import { salesKeys } from '../../consumers/projections/sales/sales.keys';
import { servingKey, versionKey, type ReadModelName } from '../../consumers/projections/shared/keys';
import type { StoreDump } from '../../consumers/projections/shared/memory-store';
import type { MenuCategory } from '../../schemas/generated/types';
import { topicName } from '../../schemas/topics';
import { call } from '../support/http';
import { testKafka, testRedis, unique, withAdmin } from '../support/kafka';
import { kafkaConsumerGroups, runReplay, smallLoad, type Loaded } from '../support/operations';
import { actualReadModel, dropKeys, expectedReadModels, waitForReadModels } from '../support/read-side';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';

jest.setTimeout(300_000);

const kafka = testKafka('e2e-replay');
const keyspace = unique('rp').toLowerCase();
const env = { READ_MODEL_KEYSPACE: keyspace, COMMAND_WAIT_MS: '5000' };
const group = (model: ReadModelName): string => projectionGroupId(model, keyspace);
let redis: Redis;
const roles: RoleProcess[] = [];
let gateway: RoleProcess;
let projectors: RoleProcess | undefined;

async function startProjectors(): Promise<void> {
  projectors = await startRole('projectors', env);
  roles.push(projectors);
}

async function stopProjectors(): Promise<void> {
  expect(await projectors?.stop()).toBe(0);
  projectors = undefined;
}

/** Waits until the models have caught up with the events topics, and returns what they must hold. */
async function settle(models: readonly ReadModelName[], ks = keyspace): Promise<Partial<Record<ReadModelName, StoreDump>>> {
  const { expected, ends } = await expectedReadModels(kafka, ks, models);
  await waitForReadModels(redis, ks, ends, models);
  return expected;
}

async function expectModels(models: readonly ReadModelName[], ks = keyspace): Promise<void> {
  const expected = await settle(models, ks);
  for (const model of models) expect({ model, dump: await actualReadModel(redis, ks, model) }).toEqual({ model, dump: expected[model] });
}

/** Loses menu items the way a partial data loss would: their hash, their version and their category membership. */
async function loseMenuItems(items: Loaded['menuItems']): Promise<void> {
  const keys = menuKeys(keyspace);
  for (const { id, category } of items) {
    await redis.del(keys.item(id), versionKey(keyspace, 'menu', id));
    await redis.srem(keys.category(category as MenuCategory), id);
  }
}

beforeAll(async () => {
  redis = testRedis();
  await redis.connect();
  const [processor, gw] = await Promise.all([startRole('command-processor', env), startRole('gateway', env)]);
  roles.push(processor, gw);
  gateway = gw;
  await startProjectors();
});

afterAll(async () => {
  await Promise.all(roles.map((r) => r.stop().catch(() => null)));
  await dropKeys(redis, `rm:{${keyspace}*`);
  const groups = (await withAdmin(kafka, (admin) => admin.listGroups())).groups.map((g) => g.groupId).filter((g) => g.includes(`.${keyspace}`));
  await withAdmin(kafka, (admin) => admin.deleteGroups(groups)).catch(() => undefined);
  await redis.quit();
});

let phaseB: Loaded;

describe('npm run replay', () => {
  it('refuses a running group, naming its live members, and bad input, with exit codes to match', async () => {
    await smallLoad(gateway.url, 'a', 8, 6);
    const running = await runReplay([group('menu'), '--to', 'earliest', '--metrics-port', '0']);
    expect(running.code).toBe(3);
    expect(running.stderr).toContain(`consumer group ${group('menu')} is not stopped`);
    expect(running.stderr).toMatch(/1 live member\(s\)[\s\S]*\(client restaurant\.projectors\.[^,]+, host [^)]+\)/);
    expect(running.stderr).toContain('ROLE=projector:menu');

    const unknown = await runReplay(['restaurant.projection.pizzas', '--to', 'earliest', '--metrics-port', '0']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown consumer group "restaurant.projection.pizzas"');
    const never = await runReplay([projectionGroupId('menu', `${keyspace}x`), '--to', 'earliest', '--metrics-port', '0']);
    expect(never.code).toBe(2);
    expect(never.stderr).toMatch(/unknown consumer group .*Kafka has no such group/);
    const badTo = await runReplay([group('menu'), '--to', 'last-tuesday', '--metrics-port', '0']);
    expect(badTo.code).toBe(2);
    expect(badTo.stderr).toContain('--to "last-tuesday" is not earliest, an ISO-8601 time');
  });

  it('--to earliest rebuilds models corrupted in ways only a rebuild repairs', async () => {
    const expected = await settle(['menu', 'sales']);
    await stopProjectors();
    const [item] = Object.keys(await actualReadModel(redis, keyspace, 'menu')).filter((key) => key.startsWith(menuKeys(keyspace).item('')));
    expect(item).toBeDefined();
    await redis.hset(item as string, 'name', 'corrupted');
    const today = new Date().toISOString().slice(0, 10);
    await redis.hincrby(salesKeys(keyspace).day(today), 'orders', 1000);
    expect(await actualReadModel(redis, keyspace, 'menu')).not.toEqual(expected.menu);
    expect(await actualReadModel(redis, keyspace, 'sales')).not.toEqual(expected.sales);

    for (const model of ['menu', 'sales'] as const) {
      const replay = await runReplay([group(model), '--to', 'earliest', '--metrics-port', '0']);
      expect({ model, code: replay.code, stderr: replay.code === 0 ? '' : replay.stderr }).toEqual({ model, code: 0, stderr: '' });
      expect(replay.stdout).toContain(`cleared the ${model} read model in keyspace ${keyspace}`);
      expect(replay.stdout).toMatch(new RegExp(`caught up: ${group(model).replace(/\./g, '\\.')} replayed [\\d,]+ events`));
      expect(replay.stderr).toMatch(/\[#+\] 100\.0% {2}[\d,]+\/[\d,]+ offsets {2}[\d,]+ events\/s {2}caught up/);
      expect(replay.stderr).toMatch(/ETA/);
    }
    await expectModels(['menu', 'sales']);
  });

  it('--to <ISO time> delivers the events since then again and restores what was lost after it', async () => {
    await startProjectors();
    const since = new Date();
    phaseB = await smallLoad(gateway.url, 'b', 6, 0);
    const expected = await settle(['menu']);
    await stopProjectors();
    await loseMenuItems(phaseB.menuItems);
    expect(await actualReadModel(redis, keyspace, 'menu')).not.toEqual(expected.menu);

    const replay = await runReplay([group('menu'), '--to', since.toISOString(), '--metrics-port', '0']);
    expect({ code: replay.code, stderr: replay.code === 0 ? '' : replay.stderr }).toEqual({ code: 0, stderr: '' });
    expect(replay.stdout).toContain(`reset ${group('menu')} to ${since.toISOString()}`);
    // From that time, not from the start: the items of the first phase lie before it.
    const starts = [...replay.stdout.matchAll(/restaurant\.menu\.events\/\d+@(\d+)/g)].map((m) => Number(m[1]));
    expect(starts.some((offset) => offset > 0)).toBe(true);
    expect(replay.stdout).not.toContain('cleared');
    await expectModels(['menu']);
  });

  it("Kafka's kafka-consumer-groups --reset-offsets on stopped groups: redelivered from there, lost items back, no counter doubled", async () => {
    await loseMenuItems(phaseB.menuItems);
    for (const model of ['menu', 'sales'] as const) {
      const topic = topicName(model === 'menu' ? 'menu' : 'order', 'events');
      const reset = kafkaConsumerGroups(['--group', group(model), '--topic', topic, '--reset-offsets', '--to-earliest', '--execute']);
      expect({ model, status: reset.status }).toEqual({ model, status: 0 });
      expect(reset.output).toMatch(/NEW-OFFSET/);
      const committed = await withAdmin(kafka, (admin) => admin.fetchOffsets({ groupId: group(model), topics: [topic] }));
      const lows = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
      for (const p of committed[0]?.partitions ?? []) expect(p.offset).toBe(lows.find((l) => l.partition === p.partition)?.low);
    }
    await startProjectors();
    await expectModels(['menu', 'sales']);
  });

  it('--blue-green builds a new keyspace while the old one answers every query, then switches and drops the old', async () => {
    const query = await startRole('query', env);
    roles.push(query);
    let stop = false;
    const statuses = new Map<number, number>();
    const poll = (async () => {
      for (let i = 0; i < 5_000 && !stop; i += 1) {
        const r = await call(query.url, 'GET', '/menu');
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    let last: Loaded | undefined;
    const load = (async () => {
      for (let i = 0; i < 100 && !stop; i += 1) last = await smallLoad(gateway.url, `bg${i}`, 1, 0);
    })();

    const replay = await runReplay([group('menu'), '--blue-green', '--handover-timeout', '60', '--metrics-port', '0']);
    stop = true;
    await Promise.all([poll, load]);
    expect({ code: replay.code, stderr: replay.code === 0 ? '' : replay.stderr }).toEqual({ code: 0, stderr: '' });
    const fresh = `${keyspace}-g1`;
    expect(replay.stdout).toContain(`building the menu read model into keyspace ${fresh} (group ${projectionGroupId('menu', fresh)}) while ${keyspace} keeps serving`);
    expect(replay.stdout).toContain(`switched: keyspace ${fresh} serves the menu read model now (was ${keyspace})`);
    expect(replay.stdout).toContain(`handed over: a projector role joined ${projectionGroupId('menu', fresh)}`);
    expect(replay.stdout).toContain(`dropped the old menu read model in keyspace ${keyspace}`);
    expect(await redis.hget(servingKey(keyspace), 'menu')).toBe(fresh);

    // Every query during the rebuild and the switch was answered from a whole model.
    expect([...statuses.keys()]).toEqual([200]);
    expect(statuses.get(200)).toBeGreaterThan(10);
    // The projector role moved to the new keyspace: what was added during and after the switch is there.
    const lastItem = last?.menuItems[0]?.id;
    expect(lastItem).toBeDefined();
    const menu = await call(query.url, 'GET', `/menu?consistency=${last?.lastToken ?? ''}`);
    expect(menu.status).toBe(200);
    expect(JSON.stringify(menu.body)).toContain(lastItem as string);
    await expectModels(['menu'], fresh);
    expect(await actualReadModel(redis, keyspace, 'menu')).toEqual({});
    const groups = (await withAdmin(kafka, (admin) => admin.listGroups())).groups.map((g) => g.groupId);
    expect(groups).not.toContain(group('menu'));
  });
});
