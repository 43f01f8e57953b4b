/**
 * Self-healing: the read side runs on a Redis of this test's own (no
 * persistence), under a steady load of commands and queries, and that Redis is
 * restarted, losing every read model, checkpoint and pointer. Without anyone
 * doing anything:
 * * no query answers from the partial model as if it were whole: every answer
 *   is right (200 with what we know is there), or says so (503 rebuilding, or
 *   503 unavailable while Redis is away), and "rebuilding" is said;
 * * the projectors notice the lost checkpoints (counted as checkpoint_lost) and
 *   rebuild every model from the first offsets;
 * * afterwards every model equals the independent verifier's fold.
 */
import Redis from 'ioredis';
import { projectionGroupId } from '../../consumers/projections/runtime/read-models';
import { READ_MODELS } from '../../consumers/projections/shared/keys';
import { call } from '../support/http';
import { testKafka, unique, withAdmin } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { smallLoad, type Loaded } from '../support/operations';
import { actualReadModel, expectedReadModels, waitForReadModels } from '../support/read-side';
import { startRedisServer, type TestRedisServer } from '../../app/chaos/redis-server';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';

jest.setTimeout(300_000);

/** Partitions each group has started over from the first offset, summed over reasons, from a role's /metrics. */
async function rebuilds(role: RoleProcess): Promise<Map<string, number>> {
  const text = await (await fetch(`${role.opsUrl}/metrics`)).text();
  const counts = new Map<string, number>();
  for (const [, group, value] of text.matchAll(/^restaurant_consumer_partition_rebuilds_total\{group="([^"]+)",reason="[^"]+"\} (\d+)$/gm)) {
    counts.set(group as string, (counts.get(group as string) ?? 0) + Number(value));
  }
  return counts;
}

const kafka = testKafka('e2e-self-healing');
const keyspace = unique('heal').toLowerCase();
let server: TestRedisServer;
let redis: Redis;
const roles: RoleProcess[] = [];

afterAll(async () => {
  await Promise.all(roles.map((r) => r.stop().catch(() => null)));
  redis?.disconnect();
  await server?.stop();
  await withAdmin(kafka, (admin) => admin.deleteGroups(READ_MODELS.map((m) => projectionGroupId(m, keyspace)))).catch(() => undefined);
});

describe('a Redis that loses its data under load', () => {
  it('heals without intervention, and no query passes off a partial model as whole meanwhile', async () => {
    server = await startRedisServer();
    redis = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 2 });
    await redis.connect();
    const env = { READ_MODEL_KEYSPACE: keyspace, REDIS_URL: server.url, COMMAND_WAIT_MS: '5000', CONSISTENCY_WAIT_MS: '5000' };
    const [processor, gateway, projectors, query] = await Promise.all([
      startRole('command-processor', env),
      startRole('gateway', env),
      startRole('projectors', env),
      startRole('query', env),
    ]);
    roles.push(processor, gateway, projectors, query);

    const known: Loaded = await smallLoad(gateway.url, 'heal', 8, 8);
    const before = await expectedReadModels(kafka, keyspace);
    await waitForReadModels(redis, keyspace, before.ends);
    const order = known.orders[0] as string;

    let stop = false;
    const wrong: string[] = [];
    const seen = new Map<string, number>();
    const note = (what: string): void => {
      seen.set(what, (seen.get(what) ?? 0) + 1);
    };
    const judge = (route: string, status: number, body: Record<string, unknown>, whole: () => boolean): void => {
      const code = (body.error as { code?: string } | undefined)?.code;
      if (status === 200 && whole()) return note('200');
      if (status === 503 && (code === 'rebuilding' || code === 'unavailable')) return note(code);
      wrong.push(`${route}: ${status} ${JSON.stringify(body).slice(0, 200)}`);
    };
    const queries = (async () => {
      for (let i = 0; i < 20_000 && !stop; i += 1) {
        const menu = await call(query.url, 'GET', '/menu');
        judge('/menu', menu.status, menu.body, () => known.menuItems.every((item) => JSON.stringify(menu.body).includes(item.id)));
        const one = await call(query.url, 'GET', `/orders/${order}`);
        judge(`/orders/${order}`, one.status, one.body, () => one.body.orderId === order && one.body.status === 'CONFIRMED');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const load = (async () => {
      for (let i = 0; i < 200 && !stop; i += 1) await smallLoad(gateway.url, `heal${i}`, 1, 1);
    })();

    await waitFor('answers under load before the restart', async () => (seen.get('200') ?? 0) > 10 || undefined, 30_000);
    const rebuildsBefore = await rebuilds(projectors);
    await server.restart();
    await waitFor('a rebuilding answer after the restart', async () => (seen.get('rebuilding') ?? 0) > 0 || undefined, 60_000, 20);
    const okBefore = seen.get('200') ?? 0;
    await waitFor('whole answers again', async () => (seen.get('200') ?? 0) > okBefore + 10 || undefined, 120_000);
    stop = true;
    await Promise.all([queries, load]);

    expect(wrong).toEqual([]);
    expect(seen.get('rebuilding')).toBeGreaterThan(0);
    // Every model started partitions over after the restart (checkpoint_lost when a projector noticed while running, no_checkpoint after a rejoin).
    const rebuildsAfter = await rebuilds(projectors);
    for (const model of READ_MODELS) {
      const group = projectionGroupId(model, keyspace);
      expect({ model, more: (rebuildsAfter.get(group) ?? 0) > (rebuildsBefore.get(group) ?? 0) }).toEqual({ model, more: true });
    }

    const after = await expectedReadModels(kafka, keyspace);
    await waitForReadModels(redis, keyspace, after.ends);
    for (const model of READ_MODELS) expect({ model, dump: await actualReadModel(redis, keyspace, model) }).toEqual({ model, dump: after.expected[model] });
  });
});
