/**
 * The admin API's dead-letter endpoints against the real Kafka, registry and
 * Redis (docs/read-side.md#redrive-and-skip): a poison event parks one order;
 * an admin lists it over HTTP, shows it decoded with its headers (traceparent
 * included), redrives it once the projection is fixed (the read model then
 * equals an independent fold), redrives again (nothing applied), and skips
 * another order's event with a reason. Every action is on the action topic
 * with the token's subject as the actor. Other roles get 403, no token 401,
 * bad input 400/404, and none of those changes anything.
 *
 * The projection bug is a test double (as in parking.test.ts): the orders
 * projection, wrapped to throw for chosen event ids while `fault.on`, given to
 * the Projector and to the admin API through their specs.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { logLevel } from 'kafkajs';
import { createAdminApp } from '../../consumers/admin-api/app';
import { listParked } from '../../consumers/projections/redrive/redrive';
import { Projector } from '../../consumers/projections/runtime/projector';
import { READ_MODEL_SPECS, type AnyProjection, type ReadModelSpec } from '../../consumers/projections/runtime/read-models';
import { checkpointKey, readModelPrefix } from '../../consumers/projections/shared/keys';
import { MemoryStore } from '../../consumers/projections/shared/memory-store';
import { foldInto, type Envelope } from '../../consumers/projections/shared/projection';
import { authenticate } from '../../infra/auth/express';
import { mintToken } from '../../infra/auth/local-issuer';
import { AvroCodec } from '../../infra/kafka/codec';
import { readToEnd } from '../../infra/kafka/read-to-end';
import { allTopicSpecs, applyTopics } from '../../infra/kafka/topics';
import { rootLogger } from '../../infra/logging';
import type { DeadLetterAction } from '../../schemas/generated/types';
import type { Role } from '../../schemas/roles';
import { DEAD_LETTER_ACTIONS_TOPIC, dlqTopicName } from '../../schemas/topics';
import { claimsFor, memorySigningKey, testVerifier } from '../support/auth';
import { createTopicsAndWait, testKafka, testRedis, testRegistry, unique, withAdmin } from '../support/kafka';
import { line, money, orderHistory } from '../support/order-histories';
import { DAY, HOUR, T0 } from '../support/projection-spec';
import { dropKeys, produceEnvelopes, redisDump, waitForCheckpoint } from '../support/read-side';
import { waitFor } from '../../infra/wait-for';

jest.setTimeout(180_000);

const kafka = testKafka('it-admin-api', logLevel.NOTHING);
const redis = testRedis();
const codec = new AvroCodec(testRegistry());
const logger = rootLogger.child({ test: 'admin-api' });
logger.level = 'silent';
const PARTITIONS = 3;
const keyspace = unique('it-admin').toLowerCase();
const topic = unique('it.order.events');
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const server = http.createServer();
let projector: Projector;
let base = '';
const tokens = new Map<Role, string>();
const ADMIN_SUBJECT = 'admin-alice';

type OrderEnvelope = Envelope<{ readonly type: string; readonly data: object }>;

const fault = { on: true, eventIds: new Set<string>() };
const real = READ_MODEL_SPECS.orders;
const faultyProjection: AnyProjection = {
  readModel: real.projection.readModel,
  handles: real.projection.handles,
  initialState: real.projection.initialState,
  stateKey: (ks, id) => real.projection.stateKey(ks, id),
  apply(state, event, metadata, ks) {
    if (fault.on && fault.eventIds.has(metadata.eventId)) throw new Error(`test double of a projection bug (event ${metadata.eventId})`);
    return real.projection.apply(state, event, metadata, ks);
  },
};
const spec: ReadModelSpec = { ...real, projection: faultyProjection };

const ORDERS: OrderEnvelope[][] = Array.from({ length: 5 }, (_, i) =>
  orderHistory({
    orderId: `order-${i}`,
    customerId: `customer-${i % 2}`,
    lines: [line('pizza', 'Pizza', 1 + (i % 2), money(950)), line('cola', 'Cola', 1, money(300))],
    openedAt: T0 + i * HOUR,
    at: { placed: T0 + i * HOUR + 60_000, confirmed: T0 + i * HOUR + DAY / 2, preparing: T0 + i * HOUR + DAY / 2 + 1, ready: T0 + i * HOUR + DAY / 2 + 2 },
  }),
);
const poisoned = ORDERS[1] as OrderEnvelope[];
const poisonAt = 4;
const poison = poisoned[poisonAt] as OrderEnvelope;
const other = ORDERS[3] as OrderEnvelope[];
const otherLast = other[other.length - 1] as OrderEnvelope;
const everything = ORDERS.flat();
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

function fold(envelopes: readonly OrderEnvelope[]) {
  const store = new MemoryStore();
  foldInto(store, real.projection, keyspace, envelopes);
  return store.dump(readModelPrefix(keyspace, 'orders'));
}

async function readModel() {
  const dump = await redisDump(redis, readModelPrefix(keyspace, 'orders'));
  delete dump[checkpointKey(keyspace, 'orders')];
  for (const key of Object.keys(dump)) if (key.startsWith(`${readModelPrefix(keyspace, 'orders')}parked`)) delete dump[key];
  return dump;
}

async function actionsOf(aggregateId: string): Promise<DeadLetterAction[]> {
  const out: DeadLetterAction[] = [];
  await readToEnd(kafka, [{ topic: DEAD_LETTER_ACTIONS_TOPIC }], async ({ message }) => {
    const action = (await codec.decode(message.value)).value as DeadLetterAction;
    if (action.keyspace === keyspace && action.aggregateId === aggregateId) out.push(action);
  });
  return out;
}

/** The parts of the admin API's answers the tests read. */
interface Answer {
  readonly error: { readonly code: string; readonly message: string };
  readonly deadLetters: ReadonlyArray<{ readonly aggregateId: string; readonly reason: string; readonly readModel: string; readonly consumerGroup: string }>;
  readonly parked: unknown;
  readonly chain: ReadonlyArray<{ readonly role: string; readonly version: number }>;
}

async function call(method: 'GET' | 'POST', path: string, who: Role | null, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Answer }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(who === null ? {} : { authorization: `Bearer ${tokens.get(who) as string}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as Answer };
}

beforeAll(async () => {
  await redis.connect();
  await producer.connect();
  // The actions topic, and the process managers' parked topics a list without a model reads too.
  await withAdmin(kafka, (admin) => applyTopics(admin, allTopicSpecs().filter((t) => t.name === DEAD_LETTER_ACTIONS_TOPIC || t.role === 'parked')));
  const key = await memorySigningKey();
  for (const role of ['admin', 'manager', 'customer'] as const) tokens.set(role, await mintToken(key, claimsFor(role, role === 'admin' ? ADMIN_SUBJECT : undefined)));
  server.on('request', createAdminApp({ redis, keyspace, keyspaceOverride: keyspace, codec, producer, kafka, logger, authenticate: authenticate(testVerifier(key)), specs: { orders: spec } }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  fault.on = true;
  fault.eventIds = new Set([poison.metadata.eventId, otherLast.metadata.eventId]);
  await createTopicsAndWait(kafka, [topic, dlqTopicName(topic)].map((t) => ({ topic: t, numPartitions: PARTITIONS, replicationFactor: 1 })));
  const target = { topic, schemaTopic: 'restaurant.order.events', namespace: 'restaurant.order', partitions: PARTITIONS };
  // In order; the poison event arrives traced: its traceparent must show.
  const at = everything.indexOf(poison);
  await produceEnvelopes(producer, codec, target, everything.slice(0, at));
  await produceEnvelopes(producer, codec, { ...target, headers: { traceparent: TRACEPARENT } }, [poison]);
  await produceEnvelopes(producer, codec, target, everything.slice(at + 1));
  projector = new Projector({ kafka, codec, redis, logger, model: 'orders', spec, keyspace, topics: [topic], retry: { attempts: 2, initialDelayMs: 10, maxDelayMs: 10 } });
  await projector.start();
  const offsets = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
  const ends = new Map([[topic, new Map(offsets.filter((o) => Number(o.high) > 0).map((o) => [o.partition, Number(o.high) - 1]))]]);
  await waitForCheckpoint(redis, keyspace, 'orders', ends);
  await waitFor('both orders parked', async () => ((await listParked({ redis, spec, keyspace })).length === 2 ? true : undefined), 60_000);
});

afterAll(async () => {
  await projector?.stop();
  await new Promise((resolve) => server.close(resolve));
  await producer.disconnect();
  await dropKeys(redis, `rm:{${keyspace}}:*`);
  await redis.quit();
});

describe('who may use the admin API', () => {
  it('401 without a token, 403 for every role but admin; nothing changes', async () => {
    const before = await redisDump(redis, readModelPrefix(keyspace, 'orders'));
    expect((await call('GET', '/dead-letters', null)).status).toBe(401);
    for (const role of ['manager', 'customer'] as const) {
      expect((await call('GET', '/dead-letters', role)).status).toBe(403);
      expect((await call('GET', '/dead-letters/orders/order-1', role)).status).toBe(403);
      const redriven = await call('POST', '/dead-letters/orders/redrive', role, { all: true, why: 'not mine to do' });
      expect(redriven).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
      expect((await call('POST', '/dead-letters/orders/order-3/skip', role, { why: 'not mine to do' })).status).toBe(403);
    }
    expect((await call('POST', '/dead-letters/orders/redrive', null, { all: true, why: 'anonymous' })).status).toBe(401);
    expect(await redisDump(redis, readModelPrefix(keyspace, 'orders'))).toEqual(before);
    expect(await actionsOf('order-1')).toEqual([]);
  });
});

describe('an admin over HTTP', () => {
  it('lists the parked orders by read model, reason and aggregate', async () => {
    const all = await call('GET', '/dead-letters?model=orders', 'admin');
    expect(all.status).toBe(200);
    expect(all.body.deadLetters.map((d) => [d.aggregateId, d.reason, d.readModel, d.consumerGroup]).sort()).toEqual([
      ['order-1', 'processing-failed', 'orders', projector.groupId],
      ['order-3', 'processing-failed', 'orders', projector.groupId],
    ]);
    const one = await call('GET', '/dead-letters?model=orders&aggregate=order-1', 'admin');
    expect(one.body.deadLetters.map((d) => d.aggregateId)).toEqual(['order-1']);
    expect((await call('GET', '/dead-letters?model=orders&reason=not-avro', 'admin')).body).toEqual({ deadLetters: [] });
  });

  it('shows one decoded, with its headers and trace', async () => {
    const shown = await call('GET', '/dead-letters/orders/order-1', 'admin');
    expect(shown.status).toBe(200);
    expect(shown.body.parked).toMatchObject({ aggregateId: 'order-1', head: { version: poison.metadata.version, eventId: poison.metadata.eventId } });
    expect(shown.body.chain.map((e) => [e.role, e.version])).toEqual(poisoned.slice(poisonAt).map((e, i) => [i === 0 ? 'head' : 'behind', e.metadata.version]));
    expect(shown.body.chain[0]).toMatchObject({ headers: { 'event-type': 'OrderPlaced', traceparent: TRACEPARENT }, value: { metadata: { eventId: poison.metadata.eventId } } });
  });

  it('bad input is a clear 400 or 404 and changes nothing', async () => {
    const before = await redisDump(redis, readModelPrefix(keyspace, 'orders'));
    const cases: Array<[string, 'GET' | 'POST', string, unknown, number, string]> = [
      ['unknown model (list)', 'GET', '/dead-letters?model=nope', undefined, 400, 'no read model "nope"'],
      ['repeated filter', 'GET', '/dead-letters?model=orders&model=menu', undefined, 400, 'at most once'],
      ['unknown model (show)', 'GET', '/dead-letters/nope/order-1', undefined, 404, 'no read model "nope"'],
      ['not parked (show)', 'GET', '/dead-letters/orders/order-0', undefined, 404, 'order-0 is not parked in orders'],
      ['redrive without why', 'POST', '/dead-letters/orders/redrive', { aggregateId: 'order-1' }, 400, 'why is required'],
      ['redrive with an empty why', 'POST', '/dead-letters/orders/redrive', { aggregateId: 'order-1', why: '  ' }, 400, 'why must be a non-empty string'],
      ['redrive choosing two', 'POST', '/dead-letters/orders/redrive', { aggregateId: 'order-1', all: true, why: 'x' }, 400, 'exactly one of'],
      ['redrive choosing none', 'POST', '/dead-letters/orders/redrive', { why: 'x' }, 400, 'exactly one of'],
      ['redrive with all: false', 'POST', '/dead-letters/orders/redrive', { all: false, why: 'x' }, 400, 'all must be true'],
      ['redrive of an unknown model', 'POST', '/dead-letters/nope/redrive', { all: true, why: 'x' }, 404, 'no read model'],
      ['redrive with a JSON array', 'POST', '/dead-letters/orders/redrive', [1], 400, 'JSON object'],
      ['redrive with broken JSON', 'POST', '/dead-letters/orders/redrive', '{"why":', 400, ''],
      ['skip without why', 'POST', '/dead-letters/orders/order-3/skip', {}, 400, 'why is required'],
      ['skip of a malformed event', 'POST', '/dead-letters/orders/order-3/skip', { why: 'x', event: 'nope' }, 400, 'is not <topic>:<partition>:<offset>'],
      ['skip of an event not parked', 'POST', '/dead-letters/orders/order-3/skip', { why: 'x', event: `${topic}:0:999999` }, 404, 'has no parked event'],
      ['skip of an order not parked', 'POST', '/dead-letters/orders/order-0/skip', { why: 'x' }, 404, 'order-0 is not parked'],
      ['unknown route', 'GET', '/nope', undefined, 404, 'no such route'],
    ];
    for (const [name, method, path, body, status, message] of cases) {
      const res = await call(method, path, 'admin', body);
      expect([name, res.status]).toEqual([name, status]);
      expect([name, res.body.error.message]).toEqual([name, expect.stringContaining(message)]);
    }
    expect(await redisDump(redis, readModelPrefix(keyspace, 'orders'))).toEqual(before);
    expect([...(await actionsOf('order-1')), ...(await actionsOf('order-3')), ...(await actionsOf('order-0'))]).toEqual([]);
  });

  it('after the fix, a redrive applies the parked chain: the read model equals an independent fold; again applies nothing', async () => {
    fault.eventIds = new Set([otherLast.metadata.eventId]); // the fix for order-1's bug is deployed
    const first = await call('POST', '/dead-letters/orders/redrive', 'admin', { aggregateId: 'order-1', why: 'fix for OrderPlaced deployed' });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ readModel: 'orders', applied: poisoned.length - poisonAt, outcomes: [{ aggregateId: 'order-1', outcome: 'redriven' }] });
    expect(await readModel()).toEqual(fold(everything.filter((e) => e !== otherLast)));

    const again = await call('POST', '/dead-letters/orders/redrive', 'admin', { aggregateId: 'order-1', why: 'fix for OrderPlaced deployed' });
    expect(again).toMatchObject({ status: 200, body: { applied: 0, outcomes: [{ outcome: 'not-parked', applied: 0 }] } });
    expect(await readModel()).toEqual(fold(everything.filter((e) => e !== otherLast)));
    expect((await call('GET', '/dead-letters?model=orders', 'admin')).body.deadLetters.map((d) => d.aggregateId)).toEqual(['order-3']);
  });

  it('a redrive of a reason whose chain still fails keeps it parked and applies nothing', async () => {
    const before = await readModel();
    const res = await call('POST', '/dead-letters/orders/redrive', 'admin', { reason: 'processing-failed', why: 'try the rest' });
    expect(res).toMatchObject({ status: 200, body: { applied: 0, outcomes: [{ aggregateId: 'order-3', outcome: 'failed', applied: 0 }] } });
    expect(await readModel()).toEqual(before);
  });

  it('a skip with a reason drops the event unapplied and unparks the emptied chain', async () => {
    const before = await readModel();
    const res = await call('POST', '/dead-letters/orders/order-3/skip', 'admin', { why: 'a duplicate; confirmed with support' });
    expect(res).toMatchObject({ status: 200, body: { readModel: 'orders', outcome: 'skipped', unparked: true } });
    expect(await readModel()).toEqual(before);
    expect((await call('GET', '/dead-letters', 'admin')).body).toEqual({ deadLetters: [] });
  });

  it('the action topic says who (the token subject), when and why', async () => {
    const order1 = await actionsOf('order-1');
    expect(order1.map((a) => [a.action, a.outcome, a.applied, a.actor, a.why])).toEqual([
      ['redrive', 'redriven', poisoned.length - poisonAt, ADMIN_SUBJECT, 'fix for OrderPlaced deployed'],
      ['redrive', 'not-parked', 0, ADMIN_SUBJECT, 'fix for OrderPlaced deployed'],
    ]);
    const order3 = await actionsOf('order-3');
    expect(order3.map((a) => [a.action, a.outcome, a.actor, a.why])).toEqual([
      ['redrive', 'failed', ADMIN_SUBJECT, 'try the rest'],
      ['skip', 'skipped', ADMIN_SUBJECT, 'a duplicate; confirmed with support'],
    ]);
    for (const action of [...order1, ...order3]) {
      expect(action.consumerGroup).toBe(projector.groupId);
      expect(Math.abs(action.at - Date.now())).toBeLessThan(10 * 60_000);
    }
  });
});
