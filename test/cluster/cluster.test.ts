/**
 * Scale-out on a replicated cluster: three Kafka nodes (topics with three
 * replicas, min.insync.replicas 2, every write acks=all), the command side
 * twice (two gateways; two command processors that split the command topics'
 * partitions) and an orders projector. Orders are placed through
 * BOTH gateways, as clients do: each request with an Idempotency-Key, retried
 * with the same key on a 503 or a lost connection. Under that load the node
 * leading the busiest order-events partition is killed with -9. Then:
 * * orders are still accepted through both gateways after the kill;
 * * every order placed has its events exactly once: versions 1..4 on
 *   restaurant.order.events, no gap, no duplicate (read independently of the
 *   code under test, by key, straight from the topic);
 * * the orders read model shows every one of them placed;
 * * the schema registry still answers and takes a new schema with a node down.
 */
import Redis from 'ioredis';
import { AssignerProtocol, type Kafka } from 'kafkajs';
import { ordersKeys } from '../../consumers/projections/orders/orders.keys';
import { readToEnd } from '../../infra/kafka/read-to-end';
import { DEFAULT_GROUP as COMMAND_PROCESSOR_GROUP } from '../../producers/command-processor/processor';
import { allTopicSpecs, applyTopics } from '../../infra/kafka/topics';
import { topicCatalog } from '../../schemas/topics';
import { startTestCluster, type TestCluster } from '../../app/chaos/own-cluster';
import { bearer } from '../support/auth';
import { call } from '../support/http';
import { unique, withAdmin } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';

// Bounded phase by phase (each wait below has its own bound); on a loaded 2-core machine starting three JVM nodes,
// the registry and three role processes alone takes two minutes or more.
jest.setTimeout(600_000);

/** The test cluster's ports: the caller's KAFKA_PORT, REGISTRY_PORT and REDIS_PORT moved by this much. */
const PORT_OFFSET = Number(process.env.CLUSTER_TEST_PORT_OFFSET ?? 700);
const ORDER_EVENTS = 'restaurant.order.events';
/** Whole orders each gateway takes before the kill, and again after it. */
const ORDERS_PER_GATEWAY = 5;
const address = { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' };

let cluster: TestCluster | undefined;
const began = Date.now();
/** Progress on stderr as it happens, so a slow phase on a loaded machine shows where the time went. */
const phase = (what: string): void => {
  process.stderr.write(`[cluster e2e +${((Date.now() - began) / 1000).toFixed(1)} s] ${what}\n`);
};
let redis: Redis | undefined;
const roles: RoleProcess[] = [];

afterAll(async () => {
  await Promise.all(roles.map((r) => r.stop().catch(() => null)));
  redis?.disconnect();
  await cluster?.stop();
});

interface Sent {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly attempts: number;
  /** From the first attempt to the answer that ended it. */
  readonly tookMs: number;
}

/** A client's request: on a 503 or a lost connection, the same request again with the same Idempotency-Key, for up to `budgetMs`. */
async function send(base: string, path: string, body: unknown, key: string, auth: Record<string, string> = {}, budgetMs = 60_000): Promise<Sent> {
  const first = Date.now();
  const deadline = first + budgetMs;
  for (let attempts = 1; ; attempts += 1) {
    let status = 0;
    let reply: Record<string, unknown> = {};
    try {
      const r = await call(base, 'POST', path, body, { ...auth, 'Idempotency-Key': key });
      status = r.status;
      reply = r.body;
    } catch {
      status = 0; // connection lost or no answer within call()'s bound: retry, as a client would
    }
    if ((status !== 503 && status !== 0) || Date.now() > deadline) return { status, body: reply, attempts, tookMs: Date.now() - first };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

interface Placed {
  readonly orderId: string;
  readonly gateway: number;
  readonly startedAt: number;
  readonly retried: boolean;
  /** Its slowest request, retries included. */
  readonly slowestMs: number;
}

/**
 * Opens, fills, addresses and places one order through one gateway, as its
 * customer does (their own token, so their own key seals the address):
 * four commands, each must be accepted (2xx).
 */
async function placeOrder(gateway: RoleProcess, gatewayIndex: number, tag: string, menuItemId: string): Promise<Placed> {
  const startedAt = Date.now();
  const customer = await bearer('customer', `${tag}-customer`);
  const opened = await send(gateway.url, '/orders', {}, `${tag}-open`, customer);
  if (opened.status >= 300) throw new Error(`open ${tag}: HTTP ${opened.status} ${JSON.stringify(opened.body)}`);
  const orderId = opened.body.aggregateId as string;
  let retried = opened.attempts > 1;
  let slowestMs = opened.tookMs;
  for (const [step, path, body] of [
    ['item', `/orders/${orderId}/items`, { menuItemId, quantity: 1 }],
    ['address', `/orders/${orderId}/delivery-address`, { address }],
    ['place', `/orders/${orderId}/place`, {}],
  ] as const) {
    const r = await send(gateway.url, path, body, `${tag}-${step}`, customer);
    if (r.status >= 300) throw new Error(`${step} ${tag} (${orderId}): HTTP ${r.status} ${JSON.stringify(r.body)}`);
    retried ||= r.attempts > 1;
    slowestMs = Math.max(slowestMs, r.tookMs);
  }
  return { orderId, gateway: gatewayIndex, startedAt, retried, slowestMs };
}

/** Each order's record keys on the events topic (`<orderId>/<version>`), read committed from the start to the end it has now. */
async function eventKeysOf(kafka: Kafka, orderIds: ReadonlySet<string>, described: Map<string, string[]>): Promise<Map<string, string[]>> {
  const keys = new Map<string, string[]>();
  await readToEnd(
    kafka,
    [{ topic: ORDER_EVENTS }],
    ({ partition, message }) => {
      const key = message.key?.toString() ?? '';
      const orderId = key.slice(0, key.lastIndexOf('/'));
      if (!orderIds.has(orderId)) return;
      keys.set(orderId, [...(keys.get(orderId) ?? []), key]);
      const type = message.headers?.['event-type']?.toString() ?? '?';
      described.set(orderId, [...(described.get(orderId) ?? []), `${key} ${type} p${partition}@${message.offset} ${new Date(Number(message.timestamp)).toISOString()}`]);
    },
    { timeoutMs: 60_000 },
  );
  return keys;
}

describe('two instances of the command side on a three-node cluster', () => {
  it('keeps accepting orders through both gateways when the leader of the busiest partition is killed, and loses none', async () => {
    cluster = await startTestCluster(PORT_OFFSET, phase);
    phase('cluster up');
    const kafka = cluster.kafka('e2e-cluster');
    // The catalog as the roles declare it on three listed brokers: three replicas, two in sync to take a write.
    const specs = allTopicSpecs(topicCatalog({ replicationFactor: 3, minInsyncReplicas: 2 }));
    await withAdmin(kafka, (admin) => applyTopics(admin, specs));
    // The subjects are not registered beforehand: the three roles below start together on the empty registry and
    // register the same new subjects at once, each of them (infra/kafka/codec.ts).

    const keyspace = unique('cluster').toLowerCase();
    const env = { ...cluster.env, READ_MODEL_KEYSPACE: keyspace, COMMAND_WAIT_MS: '5000' };
    // The command side twice (ROLE=commands: a gateway and a command processor in one process, the two processors
    // sharing the command topics' partitions as one group) and the orders projector: three processes, not five, on a loaded machine.
    // Up to 180 s each, as the chaos run gives its instances (app/chaos/system.ts): three processes registering every
    // subject on an empty registry at once took more than the default 90 s at load average ~30 (2026-12-06).
    const ready = { readyTimeoutMs: 180_000 };
    const started = await Promise.all([
      startRole('commands', { ...env, INSTANCE_ID: 'commands-1' }, ready),
      startRole('commands', { ...env, INSTANCE_ID: 'commands-2' }, ready),
      startRole('projector:orders', { ...env, INSTANCE_ID: 'projector-1' }, ready),
    ]);
    roles.push(...started);
    phase('roles ready');
    const gateways = [started[0], started[1]] as RoleProcess[];
    // Both processors decide: the group's partitions are split between the two instances.
    const members = await waitFor('both command processors assigned partitions', async () => {
      const { groups } = await withAdmin(kafka, (admin) => admin.describeGroups([COMMAND_PROCESSOR_GROUP]));
      const assigned = (groups[0]?.members ?? []).map((m) => Object.values(AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {}).flat().length);
      return groups[0]?.state === 'Stable' && assigned.length === 2 && assigned.every((n) => n > 0) ? assigned : undefined;
    }, 60_000, 500);
    phase(`command processors hold ${members.join(' and ')} partitions`);
    redis = new Redis(cluster.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
    await redis.connect();

    const dish = await send(gateways[0]!.url, '/menu/items', { name: 'Cluster soup', description: 'replicated', category: 'STARTER', price: { amountMinor: 650, currency: 'EUR' } }, unique('dish'));
    expect(dish.status).toBe(201);
    const menuItemId = dish.body.aggregateId as string;

    // Steady load: one client per gateway, placing order after order, until told to stop.
    const run = unique('c');
    const placed: Placed[] = [];
    const failures: string[] = [];
    let stop = false;
    let killedAt = Number.POSITIVE_INFINITY;
    const client = async (g: number): Promise<void> => {
      for (let i = 0; !stop; i += 1) {
        try {
          placed.push(await placeOrder(gateways[g] as RoleProcess, g, `${run}-g${g}-${i}`, menuItemId));
        } catch (error) {
          failures.push((error as Error).message);
          return;
        }
      }
    };
    const clients = [client(0), client(1)];
    const placedThrough = (g: number, after = 0): number => placed.filter((p) => p.gateway === g && p.startedAt >= after).length;
    await waitFor('orders placed through both gateways', async () => (failures.length > 0 || (placedThrough(0) >= ORDERS_PER_GATEWAY && placedThrough(1) >= ORDERS_PER_GATEWAY) ? true : undefined), 90_000);
    expect(failures).toEqual([]);
    phase(`${placed.length} orders placed`);

    // The busiest partition of the order events, and the node that leads it.
    const offsets = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(ORDER_EVENTS));
    const busiest = [...offsets].sort((a, b) => Number(b.high) - Number(a.high))[0]!.partition;
    const metadata = await withAdmin(kafka, (admin) => admin.fetchTopicMetadata({ topics: [ORDER_EVENTS] }));
    const leader = metadata.topics[0]!.partitions.find((p) => p.partitionId === busiest)!.leader;
    killedAt = Date.now();
    cluster.kill(leader);
    await waitFor(`node ${leader} gone`, async () => (cluster?.pidOf(leader) === undefined ? true : undefined), 10_000, 100);
    phase(`node ${leader}, leader of ${ORDER_EVENTS}/${busiest}, killed`);

    // Both gateways keep accepting: whole orders started after the kill, through each of them.
    await waitFor(
      'orders placed through both gateways after the kill',
      async () => (failures.length > 0 || (placedThrough(0, killedAt) >= ORDERS_PER_GATEWAY && placedThrough(1, killedAt) >= ORDERS_PER_GATEWAY) ? true : undefined),
      120_000,
    );
    stop = true;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    phase(`${placed.length} orders placed, ${placed.filter((p) => p.startedAt >= killedAt).length} of them after the kill`);

    // The registry keeps its schemas on the cluster: it still answers, and takes a new one, with a node down.
    const subject = unique('cluster-registry-check');
    const registered = await fetch(`${cluster.registryUrl}/subjects/${subject}/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema: JSON.stringify({ type: 'record', name: 'ClusterCheck', fields: [{ name: 'n', type: 'int' }] }) }),
    });
    expect(registered.status).toBe(200);
    expect((await fetch(`${cluster.registryUrl}/subjects/${subject}/versions/latest`)).status).toBe(200);

    // Nothing lost, nothing twice: each order's four events, versions 1..4, once each.
    const ids = new Set(placed.map((p) => p.orderId));
    expect(ids.size).toBe(placed.length);
    const described = new Map<string, string[]>();
    const keys = await eventKeysOf(kafka, ids, described);
    phase('order events read back');
    const wrong = [...ids].map((id) => ({ id, keys: [...(keys.get(id) ?? [])].sort() })).filter(({ id, keys: k }) => JSON.stringify(k) !== JSON.stringify([1, 2, 3, 4].map((v) => `${id}/${v}`)));
    // What went wrong, for the log: each such order's events as read (type, partition@offset, time), and its requests.
    for (const { id } of wrong) phase(`order ${id}: ${JSON.stringify(described.get(id) ?? [])}; ${JSON.stringify(placed.find((p) => p.orderId === id))}`);
    expect(wrong).toEqual([]);

    // ... and the read model shows every one placed.
    const orders = ordersKeys(keyspace);
    const notPlaced = async (): Promise<string[]> => {
      const docs = await (redis as Redis).mget(...[...ids].map((id) => orders.order(id)));
      return [...ids].filter((_, i) => {
        const doc = docs[i];
        return doc === null || doc === undefined || (JSON.parse(doc) as { status?: string }).status !== 'PLACED';
      });
    };
    const projector = started[2] as RoleProcess;
    await waitFor('every order placed in the orders read model', async () => ((await notPlaced()).length === 0 ? true : undefined), 120_000, 250).catch(() =>
      phase(`the orders read model has not caught up; the projector's last output:\n${projector.output().slice(-6000)}`),
    );
    expect(await notPlaced()).toEqual([]);
    phase('read model checked');

    // How it went, for the log: the figures are not asserted (speed is measured by benchmarks).
    const retried = placed.filter((p) => p.retried).length;
    const slowest = (g: number): string => `${(Math.max(0, ...placed.filter((p) => p.gateway === g && p.startedAt >= killedAt - 60_000).map((p) => p.slowestMs)) / 1000).toFixed(1)} s`;
    phase(
      `${placed.length} orders placed (${placedThrough(0)} through gateway 1, ${placedThrough(1)} through gateway 2), node ${leader} (leader of ${ORDER_EVENTS}/${busiest}) killed;` +
        ` ${retried} order(s) needed a retried request; slowest request around the kill: ${slowest(0)} through gateway 1, ${slowest(1)} through gateway 2`,
    );
  });
});
