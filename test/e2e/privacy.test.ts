/**
 * Crypto-shredding as users run it (docs/privacy.md): every role in one real
 * process on the real Kafka, registry and Redis, logging at info.
 *
 * A randomized load of customers signs up, saves an address, orders with a
 * delivery address and sometimes cancels in their own words; some of them are
 * then forgotten (themselves or by an admin). Afterwards:
 * - the query API shows "[forgotten]" for their personal fields and the rest
 *   as it was; everyone else is intact;
 * - their placed orders can still be prepared, delivered, cancelled and refunded;
 * - their e-mail address can sign up again;
 * - once the keys topic is compacted, none of their data keys is left on it;
 * - none of anyone's names, e-mails, address lines or reasons is in the
 *   broker's data files (every topic: commands, events, snapshots, replies,
 *   changelogs, DLQs, internal), in any Redis key, or in the log.
 */
import { ConfigResourceTypes } from 'kafkajs';
import type Redis from 'ioredis';
import { parseKeyTopicRecord } from '../../infra/privacy/key-ring';
import { AvroCodec } from '../../infra/kafka/codec';
import { changelogTopicName, DATA_KEYS_TOPIC, paymentTopicName, PROCESS_MANAGERS, topicCatalog, topicName } from '../../schemas/topics';
import { readToEnd } from '../../infra/kafka/read-to-end';
import { partitionFor } from '../../schemas/partitioning';
import { bearer } from '../support/auth';
import { call, pool, seeded, settledStatus, type Reply } from '../support/http';
import { testKafka, testRedis, testRegistry, unique, withAdmin } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { committedUpTo, endOffsets, readRecords } from '../support/process-managers';
import { ORDER_FULFILMENT_GROUP } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.process';
import { LOYALTY_GROUP } from '../../consumers/loyalty/loyalty.process';
import { PAYMENT_SIMULATOR_GROUP } from '../../consumers/payment-simulator/payment-simulator.process';
import { foldedViews, needles, person, scanKafkaDataFiles, scanRedis, found, type Person } from '../support/privacy';
import { runReplay } from '../support/operations';
import { projectionGroupId } from '../../consumers/projections/runtime/read-models';
import { DEFAULT_KEYSPACE } from '../../consumers/projections/shared/keys';
import { servingKeyspace } from '../../consumers/projections/runtime/serving';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';
import type { Role } from '../../app/roles';

jest.setTimeout(600_000);

const kafka = testKafka('e2e-privacy');
const codec = new AvroCodec(testRegistry());
const run = unique('privacy').toLowerCase();
const random = seeded(Number.parseInt(run.replace(/\D/g, '').slice(-8) || '1', 10));
const CUSTOMERS = 16;
const FORGOTTEN = 6;
const env = {
  COMMAND_WAIT_MS: '20000',
  PAYMENT_SIMULATOR_DECLINE_SHARE: '0',
  PAYMENT_SIMULATOR_STALL_SHARE: '0',
  PAYMENT_SIMULATOR_ANSWER_DELAY_MS: '10-50',
  PAYMENT_SIMULATOR_REFUND_DELAY_MS: '10-50',
};

const roleEnv = { ...env, LOG_FORMAT: 'json', LOG_LEVEL: 'info' };
const started: RoleProcess[] = [];
const logs: string[] = [];
let commands: RoleProcess;
let queries: RoleProcess;
let processManagers: RoleProcess;
let simulator: RoleProcess;
let redis: Redis;

async function start(role: Role): Promise<RoleProcess> {
  const r = await startRole(role, roleEnv, { keepChars: 20_000_000 });
  started.push(r);
  return r;
}

beforeAll(async () => {
  // The payment simulator is a role of its own (the stand-in for the provider), not one of the process managers.
  [commands, queries, processManagers, simulator] = await Promise.all([start('commands'), start('query'), start('process-managers'), start('payment-simulator'), start('projectors')]);
  redis = testRedis();
  await redis.connect();
});

afterAll(async () => {
  await Promise.all(started.map((r) => r.stop().catch(() => null)));
  await redis?.quit();
});

/** Everything the roles have logged so far (at info), the stopped ones included. */
const logged = (): string => [...logs, ...started.map((r) => r.output())].join('\n');

interface Customer {
  readonly id: string;
  readonly who: Person;
  readonly auth: Record<string, string>;
  readonly placed: string;
  readonly cancelled: string | undefined;
}

/** A command through the gateway as `auth`, followed to its outcome when the gateway answered 202. */
async function send(path: string, body: unknown = {}, auth: Record<string, string> = {}): Promise<Reply> {
  const reply = await call(commands.url, 'POST', path, body, auth);
  if (reply.status !== 202) return reply;
  const commandId = reply.body.commandId as string;
  return waitFor(`the outcome of ${path}`, async () => {
    const r = await call(commands.url, 'GET', `/commands/${commandId}`);
    if (r.status !== 200 || r.body.status === 'pending') return undefined;
    return { ...r, status: settledStatus(path, r.body) };
  }, 60_000, 250);
}

async function ok(path: string, body: unknown = {}, auth: Record<string, string> = {}, status = 200): Promise<Reply> {
  const r = await send(path, body, auth);
  if (r.status !== status) throw new Error(`${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r;
}

const query = (path: string): Promise<Reply> => call(queries.url, 'GET', path);

async function order(c: { id: string; who: Person; auth: Record<string, string> }, dish: string): Promise<string> {
  const orderId = (await ok('/orders', { customerId: c.id }, c.auth, 201)).body.aggregateId as string;
  await ok(`/orders/${orderId}/items`, { menuItemId: dish, quantity: 1 + Math.floor(random() * 3) }, c.auth);
  await ok(`/orders/${orderId}/delivery-address`, { address: c.who.address }, c.auth);
  return orderId;
}

async function orderStatus(orderId: string, status: string): Promise<Record<string, unknown>> {
  return waitFor(`order ${orderId} ${status}`, async () => {
    const r = await query(`/orders/${orderId}`);
    return r.status === 200 && r.body.status === status ? r.body : undefined;
  }, 60_000, 300);
}

describe('forgetting customers in an immutable log', () => {
  const customers: Customer[] = [];

  it('masks the forgotten at once and leaves no personal data in plaintext anywhere', async () => {
    const dish = (await ok('/menu/items', { name: `Privacy dish ${run}`, description: 'e2e', category: 'MAIN', price: { amountMinor: 1250, currency: 'EUR' } }, {}, 201)).body.aggregateId as string;

    customers.push(
      ...(await pool(
        Array.from({ length: CUSTOMERS }, (_, i) => async (): Promise<Customer> => {
          const id = `${run}-c${i}`;
          const who = person(random, i);
          const auth = await bearer('customer', id);
          await ok('/customers', { name: who.name, email: who.email }, auth, 201);
          await ok(`/customers/${id}/addresses`, { addressId: 'home', address: who.address }, auth);
          const placed = await order({ id, who, auth }, dish);
          await ok(`/orders/${placed}/place`, {}, auth);
          let cancelled: string | undefined;
          if (i % 2 === 0) {
            cancelled = await order({ id, who, auth }, dish);
            await ok(`/orders/${cancelled}/cancel`, { reason: who.reason }, auth);
          }
          return { id, who, auth, placed, cancelled };
        }),
        6,
      )),
    );

    // Everyone is readable before the forget, through the query API's key cache.
    for (const c of customers) {
      const profile = await waitFor(`customer ${c.id} projected`, async () => {
        const r = await query(`/customers/${c.id}`);
        return r.status === 200 && (r.body.addresses as unknown[]).length === 1 ? r.body : undefined;
      });
      expect(profile).toMatchObject({ name: c.who.name, email: c.who.email, addresses: [{ addressId: 'home', address: c.who.address }] });
    }
    await pool(customers.map((c) => () => orderStatus(c.placed, 'CONFIRMED')), 4);

    // Forget some: half by themselves, half by an admin.
    const forgotten = customers.slice(0, FORGOTTEN);
    const kept = customers.slice(FORGOTTEN);
    for (const [i, c] of forgotten.entries()) await ok(`/customers/${c.id}/forget`, {}, i % 2 === 0 ? c.auth : {});
    // A repeat is harmless.
    await ok(`/customers/${forgotten[0]?.id}/forget`, {}, forgotten[0]?.auth);

    for (const c of forgotten) {
      const profile = await waitFor(`customer ${c.id} forgotten`, async () => {
        const r = await query(`/customers/${c.id}`);
        return r.status === 200 && r.body.forgotten === true ? r.body : undefined;
      });
      expect(profile).toMatchObject({ name: '[forgotten]', email: '[forgotten]', addresses: [] });
      const placed = await query(`/orders/${c.placed}`);
      expect(placed.body.deliveryAddress).toEqual({ line1: '[forgotten]', line2: '[forgotten]', city: '[forgotten]', postalCode: '[forgotten]', country: 'NL' });
      expect(placed.body.total).toEqual(expect.objectContaining({ currency: 'EUR' }));
      if (c.cancelled !== undefined) expect((await query(`/orders/${c.cancelled}`)).body.reason).toBe('[forgotten]');
      // Nothing personal is taken for them any more.
      expect((await send(`/customers/${c.id}/name`, { name: 'Back again' }, c.auth)).status).toBe(409);
    }
    for (const c of kept) {
      expect((await query(`/customers/${c.id}`)).body).toMatchObject({ name: c.who.name, email: c.who.email, forgotten: false });
      expect((await query(`/orders/${c.placed}`)).body.deliveryAddress).toEqual(c.who.address);
      if (c.cancelled !== undefined) expect((await query(`/orders/${c.cancelled}`)).body.reason).toBe(c.who.reason);
    }

    // Orders placed before the forget still run to the end: one delivered, one cancelled and refunded.
    const [delivered, refunded] = forgotten;
    if (delivered === undefined || refunded === undefined) throw new Error('two forgotten customers expected');
    for (const step of ['start-preparation', 'ready', 'dispatch', 'deliver']) await ok(`/orders/${delivered.placed}/${step}`);
    await orderStatus(delivered.placed, 'DELIVERED');
    await ok(`/orders/${refunded.placed}/cancel`, { reason: 'kitchen closed' });
    await orderStatus(refunded.placed, 'CANCELLED');
    await waitFor('the refund of a forgotten customer\'s order', async () => {
      const payments = await readRecords(kafka, paymentTopicName('results'), codec);
      return payments.some((r) => r.type === 'RefundIssued' && JSON.stringify(r.value).includes(refunded.placed)) ? true : undefined;
    }, 60_000, 1000);

    // Forgetting released the e-mail reservation: the address signs up again, under a new id.
    const again = `${run}-again`;
    await ok('/customers', { name: 'Someone New', email: forgotten[1]?.who.email }, await bearer('customer', again), 201);

    // Compaction removes the forgotten customers' data keys from the keys topic: short-lived
    // segments for the test (each write rolls a new one, as in the compaction test; a size
    // limit would refuse a record larger than it), the catalog's configs back after.
    const forgottenIds = new Set(forgotten.map((c) => c.id));
    const before = await rawKeyRecords();
    expect(before.filter((r) => r.kind === 'data-key' && forgottenIds.has(r.customerId ?? '')).length).toBeGreaterThanOrEqual(FORGOTTEN);
    await keysTopicConfigs({ 'segment.ms': '100', 'min.cleanable.dirty.ratio': '0.01' });
    try {
      // One more forget on every partition writes past the tombstones, so they leave the active segments.
      await pool(fillers(topicCatalog().topic(DATA_KEYS_TOPIC).partitions).map((id) => () => ok(`/customers/${id}/forget`, {})), 3);
      await waitFor('the keys topic compacted', async () => {
        const live = (await rawKeyRecords()).filter((r) => r.kind === 'data-key' && forgottenIds.has(r.customerId ?? ''));
        return live.length === 0 ? true : undefined;
      }, 180_000, 2000);
    } finally {
      await keysTopicConfigs({});
    }
    // The others' keys are all still there.
    const after = await rawKeyRecords();
    for (const c of kept) expect(after.some((r) => r.kind === 'data-key' && r.customerId === c.id)).toBe(true);

    // No plaintext anywhere: broker data files, Redis, the log.
    // The scans do see plaintext: the dish's name (not personal) is found in both.
    const everyone = customers.flatMap((c) => needles(c.who));
    const dishName = `Privacy dish ${run}`;
    expect(await scanKafkaDataFiles([...everyone, dishName])).toEqual(expect.arrayContaining([expect.objectContaining({ needle: dishName })]));
    expect((await scanKafkaDataFiles(everyone)).map((h) => h.needle)).toEqual([]);
    expect((await scanRedis(redis, [dishName])).length).toBeGreaterThan(0);
    expect(await scanRedis(redis, everyone)).toEqual([]);
    expect(found(logged(), everyone)).toEqual([]);
    expect(logged()).toContain('"level"');
  });

  it('a blue/green rebuild after the forget gives the masked read models a fold of the events gives', async () => {
    expect(customers.length).toBe(CUSTOMERS);
    const customerIds = customers.map((c) => c.id);
    const orderIds = customers.flatMap((c) => (c.cancelled === undefined ? [c.placed] : [c.placed, c.cancelled]));
    const answers = async (): Promise<unknown[]> => [
      ...(await Promise.all(customerIds.map((id) => query(`/customers/${id}`)))).map((r) => r.body),
      ...(await Promise.all(orderIds.map((id) => query(`/orders/${id}`)))).map((r) => r.body),
    ];
    const before = await answers();
    for (const model of ['customers', 'orders'] as const) {
      // The group serving now: an earlier blue/green run may have moved it to a keyspace of its own.
      const serving = await servingKeyspace(redis, DEFAULT_KEYSPACE, model);
      const replay = await runReplay([projectionGroupId(model, serving), '--blue-green', '--handover-timeout', '120', '--metrics-port', '0']);
      expect({ code: replay.code, stderr: replay.code === 0 ? '' : replay.stderr }).toEqual({ code: 0, stderr: '' });
    }
    const after = await answers();
    expect(after).toEqual(before);

    const folded = await foldedViews(kafka, codec, customerIds, orderIds);
    // `actions` are the caller's tasks (consumers/query-api/tasks.ts), not part of the read model a fold rebuilds.
    const stored = after.map((doc) => {
      const { actions: _tasks, ...rest } = doc as Record<string, unknown>;
      return rest;
    });
    expect(stored).toEqual([...customerIds.map((id) => folded.customers.get(id)), ...orderIds.map((id) => folded.orders.get(id))]);
    // The fold masks exactly the forgotten.
    const masked = customerIds.filter((id) => folded.customers.get(id)?.name === '[forgotten]');
    expect(masked).toEqual(customers.slice(0, FORGOTTEN).map((c) => c.id));
  });

  it('the process managers, replayed from the earliest offsets after the forget, neither fail nor write anything', async () => {
    expect(customers.length).toBe(CUSTOMERS);
    const orderIds = new Set(customers.flatMap((c) => (c.cancelled === undefined ? [c.placed] : [c.placed, c.cancelled])));
    for (const role of [processManagers, simulator]) {
      expect(await role.stop()).toBe(0);
      logs.push(role.output());
      started.splice(started.indexOf(role), 1);
    }
    const groups = [
      { groupId: ORDER_FULFILMENT_GROUP, inputs: [topicName('order', 'events'), paymentTopicName('results')] },
      { groupId: LOYALTY_GROUP, inputs: [topicName('order', 'events')] },
      { groupId: PAYMENT_SIMULATOR_GROUP, inputs: [paymentTopicName('requests')] },
    ];
    const outputs = [topicName('order', 'commands'), paymentTopicName('requests'), paymentTopicName('results'), topicName('loyalty', 'events'), ...PROCESS_MANAGERS.map(changelogTopicName)];
    const before = await endOffsets(kafka, outputs);
    const ends = await Promise.all(groups.map((g) => endOffsets(kafka, g.inputs)));
    await withAdmin(kafka, async (admin) => {
      for (const g of groups) for (const topic of g.inputs) await admin.resetOffsets({ groupId: g.groupId, topic, earliest: true });
    });
    [processManagers, simulator] = await Promise.all([start('process-managers'), start('payment-simulator')]);
    await waitFor('every process manager replayed to the end of its inputs', async () => {
      const done = await Promise.all(groups.map((g, i) => committedUpTo(kafka, g.groupId, ends[i] ?? new Map())));
      return done.every(Boolean) ? true : undefined;
    }, 180_000, 1_000);
    // Nothing written about this test's orders.
    const fresh = await Promise.all(outputs.map(async (topic) => (await readRecords(kafka, topic, codec)).filter((r) => r.offset >= (before.get(topic)?.get(r.partition) ?? 0))));
    const aboutOurs = fresh.flat().filter((r) => orderIds.has(r.key) || orderIds.has(String(r.value?.orderId ?? '')));
    expect(aboutOurs).toEqual([]);
    expect(processManagers.output() + simulator.output()).not.toMatch(/"level":(50|60)/);
  });
});

/** Customer ids, one landing on each partition of the keys topic. */
function fillers(partitions: number): string[] {
  const byPartition = new Map<number, string>();
  for (let i = 0; byPartition.size < partitions; i += 1) {
    const id = `${run}-filler-${i}`;
    if (!byPartition.has(partitionFor(id, partitions))) byPartition.set(partitionFor(id, partitions), id);
  }
  return [...byPartition.values()];
}

/** The keys topic's records as the broker holds them now (tombstones have no kind). */
async function rawKeyRecords(): Promise<{ key: string; customerId: string | undefined; kind: string | undefined }[]> {
  const out: { key: string; customerId: string | undefined; kind: string | undefined }[] = [];
  await readToEnd(kafka, [{ topic: DATA_KEYS_TOPIC }], async ({ message }) => {
    const parsed = message.value === null ? undefined : parseKeyTopicRecord(message.value);
    out.push({ key: message.key?.toString() ?? '', customerId: parsed?.customerId, kind: parsed?.kind });
  });
  return out;
}

/** Sets the keys topic's configs to the catalog's plus `overrides` (alterConfigs replaces the whole set). */
async function keysTopicConfigs(overrides: Record<string, string>): Promise<void> {
  const configs = { ...topicCatalog().topic(DATA_KEYS_TOPIC).configs, ...overrides };
  await withAdmin(kafka, (admin) =>
    admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: DATA_KEYS_TOPIC, configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) }],
    }),
  );
}
