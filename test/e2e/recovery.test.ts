/**
 * Recovery in seconds (docs/recovery.md), on a broker of this test's own that
 * it starts late, kills -9 and starts again (the schema registry and Redis are
 * the normal stack's):
 *
 * (a) the command side started while Kafka is down stays up, not ready, and
 *     becomes ready by itself once Kafka is up, and serves; a projector
 *     started while the registry and Redis are down (behind proxies the test
 *     opens) waits for both, then becomes ready;
 * (c) a projector killed -9 and started again resumes projecting within seconds
 *     (not after a 30 s session of its dead predecessor);
 * (b, d) Kafka killed -9 under a small load and started again: /readyz says
 *     503 while it is away and 200 again after; the gateway answers every
 *     request within its bound (2xx or 503, nothing hangs), and 201 (decided)
 *     again within seconds of the broker's return.
 *
 * Each recovery time is measured and printed.
 */
import Redis from 'ioredis';
import { menuKeys } from '../../consumers/projections/menu/menu.keys';
import { projectionGroupId } from '../../consumers/projections/runtime/read-models';
import { config } from '../../infra/config';
import { allTopicSpecs, applyTopics } from '../../infra/kafka/topics';
import { call } from '../support/http';
import { testRedis, unique, withAdmin } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { ownKafka, type OwnKafka } from '../../app/chaos/own-kafka';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';
import { steadyLoad } from '../support/steady-load';
import { tcpProxy } from '../../app/chaos/tcp-proxy';

jest.setTimeout(300_000);

const COMMAND_WAIT_MS = 3000;
/** The gateway's documented bound with COMMAND_WAIT_MS=3000: the wait plus one second (docs/recovery.md). */
const REQUEST_BOUND_MS = COMMAND_WAIT_MS + 1000;
/** What the client side adds on a loaded 2-core machine: the answer's trip and the event loops' delays. */
const CLIENT_SLACK_MS = 1000;

const keyspace = unique('recovery').toLowerCase();
const env = (broker: OwnKafka): Record<string, string> => ({ ...broker.env, READ_MODEL_KEYSPACE: keyspace, COMMAND_WAIT_MS: String(COMMAND_WAIT_MS) });
const figures: Record<string, number> = {};
let broker: OwnKafka;
let redis: Redis;
let commands: RoleProcess | undefined;
let projector: RoleProcess | undefined;

const status = async (url: string): Promise<number> => {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2000) })).status;
  } catch {
    return 0;
  }
};
const readyIs = (role: RoleProcess, wanted: number) => async () => ((await status(`${role.opsUrl}/readyz`)) === wanted ? true : undefined);

/**
 * Adds a dish and returns its id. `accepted` allows a 202: the command was written but its reply was not read
 * within the gateway's wait (right after an outage the processor group may still be settling); the caller then
 * proves the decision by waiting for the projection.
 */
async function addDish(gateway: RoleProcess, name: string, wanted: 'decided' | 'accepted' = 'decided'): Promise<string> {
  const reply = await call(gateway.url, 'POST', '/menu/items', { name, description: '', category: 'MAIN', price: { amountMinor: 1200, currency: 'EUR' } });
  expect(wanted === 'accepted' ? [201, 202] : [201]).toContain(reply.status);
  expect(typeof reply.body.aggregateId).toBe('string');
  return reply.body.aggregateId as string;
}

const projected = (menuItemId: string) => async () => ((await redis.exists(menuKeys(keyspace).item(menuItemId))) === 1 ? true : undefined);

beforeAll(async () => {
  broker = await ownKafka();
  redis = testRedis();
  await redis.connect();
  // A cluster that has run before and is down now: its topics exist (creating them is not what is measured).
  await broker.start();
  await withAdmin(broker.kafka(), (admin) => applyTopics(admin, allTopicSpecs()));
  await broker.kill();
});

afterAll(async () => {
  await Promise.all([commands?.stop().catch(() => null), projector?.stop().catch(() => null)]);
  const groups = [projectionGroupId('menu', keyspace)];
  await broker?.stop();
  redis?.disconnect();
  // Printed for docs/recovery.md: what each recovery took on this machine.
  console.log(`recovery figures (ms), groups ${groups.join(', ')}:\n${JSON.stringify(figures, null, 2)}`);
});

describe('recovery', () => {
  it('(a) a role started while Kafka is down waits, not ready, and comes up by itself', async () => {
    commands = await startRole('commands', env(broker), { waitReady: false });
    const role = commands;
    await waitFor('the operations port to answer /readyz 503', readyIs(role, 503), 60_000);
    // It is trying, not dead: it says so in its log while it waits.
    await waitFor('the role to say it waits for Kafka', async () => (role.output().includes('waiting for Kafka') ? true : undefined), 60_000);
    expect(role.child.exitCode).toBeNull();
    expect(await status(`${role.opsUrl}/healthz`)).toBe(200);
    expect(await status(`${role.opsUrl}/readyz`)).toBe(503);

    await broker.start();
    const back = Date.now();
    await waitFor('the command side to become ready by itself', readyIs(role, 200), 60_000);
    figures.startedDuringOutageReadyAfterBrokerMs = Date.now() - back;
    await addDish(role, 'First dish after the outage');
    figures.startedDuringOutageServingAfterBrokerMs = Date.now() - back;
  });

  it('(a) a projector started while the schema registry and Redis are down waits, and comes up once both are back', async () => {
    const stack = config();
    const registry = new URL(stack.registry.url);
    const redisUrl = new URL(stack.redis.url);
    const registryProxy = await tcpProxy(registry.hostname, Number(registry.port));
    const redisProxy = await tcpProxy(redisUrl.hostname, Number(redisUrl.port));
    let role: RoleProcess | undefined;
    try {
      role = await startRole(
        'projector:customers',
        { ...env(broker), SCHEMA_REGISTRY_URL: `http://127.0.0.1:${registryProxy.port}${registry.pathname}`, REDIS_URL: `redis://127.0.0.1:${redisProxy.port}` },
        { waitReady: false },
      );
      const waiting = role;
      await waitFor('the projector to say it waits for the registry', async () => (waiting.output().includes('waiting for the schema registry') ? true : undefined), 60_000);
      expect(await status(`${waiting.opsUrl}/readyz`)).toBe(503);
      await registryProxy.open();
      await waitFor('the projector to say it waits for Redis', async () => (waiting.output().includes('starting the roles') ? true : undefined), 60_000);
      expect(waiting.child.exitCode).toBeNull();
      expect(await status(`${waiting.opsUrl}/readyz`)).toBe(503);
      await redisProxy.open();
      const back = Date.now();
      await waitFor('the projector to become ready by itself', readyIs(waiting, 200), 60_000, 100);
      figures.projectorReadyAfterRedisBackMs = Date.now() - back;
    } finally {
      await role?.stop().catch(() => null);
      await Promise.all([registryProxy.close(), redisProxy.close()]);
    }
  });

  it('(c) a projector killed -9 and started again resumes projecting within seconds', async () => {
    const gateway = commands as RoleProcess;
    projector = await startRole('projector:menu', env(broker));
    await waitFor('the first dish in the menu read model', projected(await addDish(gateway, 'Dish before the kill')), 60_000);
    await projector.kill();
    const dish = await addDish(gateway, 'Dish while the projector is down');
    const restarted = Date.now();
    projector = await startRole('projector:menu', env(broker));
    figures.projectorReadyAfterRestartMs = Date.now() - restarted;
    await waitFor('the dish added while the projector was down', projected(dish), 20_000, 100);
    figures.projectorProjectingAfterRestartMs = Date.now() - restarted;
  });

  it('(b, d) Kafka killed -9 under load: not ready while away, every request answered within its bound, 2xx again within seconds', async () => {
    const gateway = commands as RoleProcess;
    const menuProjector = projector as RoleProcess;
    const load = steadyLoad(gateway.url);
    try {
      await waitFor('the load to get 2xx', async () => (load.answers.filter((a) => a.status >= 200 && a.status < 300).length >= 5 ? true : undefined), 30_000);
      const killed = Date.now();
      await broker.kill();
      await waitFor('the gateway to say not ready', readyIs(gateway, 503), 20_000, 100);
      figures.gatewayNotReadyAfterKillMs = Date.now() - killed;
      await waitFor('the projector to say not ready', readyIs(menuProjector, 503), 20_000, 100);
      figures.projectorNotReadyAfterKillMs = Date.now() - killed;
      // The outage is seen by the load: requests sent after the kill have been answered, none with 2xx.
      await waitFor('answers to requests sent during the outage', async () => (load.after(killed + 500).length >= 3 ? true : undefined), 30_000);
      expect(load.after(killed + 500).filter((a) => a.status >= 200 && a.status < 300)).toEqual([]);

      await broker.start();
      const back = Date.now();
      figures.brokerDownMs = back - killed;
      // 201: decided by the processor and its reply read (a 202 only says the command was written).
      const firstDecided = await waitFor('a 201 for a request sent after the broker came back', async () => load.after(back).find((a) => a.status === 201), 30_000, 100);
      figures.gatewayFirst201AfterBrokerBackMs = firstDecided.answeredAt - back;
      figures.gatewayFirst2xxAfterBrokerBackMs = (load.after(back).find((a) => a.status >= 200 && a.status < 300) ?? firstDecided).answeredAt - back;
      await waitFor('the gateway to say ready again', readyIs(gateway, 200), 30_000, 100);
      figures.gatewayReadyAfterBrokerBackMs = Date.now() - back;
      await waitFor('the projector to say ready again', readyIs(menuProjector, 200), 30_000, 100);
      figures.projectorReadyAfterBrokerBackMs = Date.now() - back;
      const dish = await addDish(gateway, 'Dish after the broker came back', 'accepted');
      await waitFor('the projector to project again', projected(dish), 30_000, 100);
      figures.projectorProjectingAfterBrokerBackMs = Date.now() - back;
    } finally {
      await load.stop();
    }
    const answers = load.answers;
    figures.requests = answers.length;
    figures.slowestAnswerMs = Math.max(...answers.map((a) => a.answeredAt - a.sentAt));
    const statuses = [...new Set(answers.map((a) => a.status))].sort();
    // Every request got an answer (no connection errors, no client timeouts), each a 2xx or a 503, within the bound.
    expect(statuses.filter((s) => !(s >= 200 && s < 300) && s !== 503)).toEqual([]);
    expect(figures.slowestAnswerMs).toBeLessThanOrEqual(REQUEST_BOUND_MS + CLIENT_SLACK_MS);
    // Up to one 6 s session (a processor consumer that crashed during the outage rejoins after its dead self)
    // plus the restore, slow on a loaded 2-core machine; before, it was 24-32 s (docs/recovery.md).
    expect(figures.gatewayFirst201AfterBrokerBackMs).toBeLessThanOrEqual(15_000);
  });
});
