/**
 * Parking and redrive against the real Kafka, registry and Redis
 * (docs/read-side.md#parked-aggregates): a poison event in the middle of one
 * order's events parks that order at its last good version while every other
 * order is applied; after the projection is fixed, a redrive applies the
 * parked chain and the read model equals an independent fold; a second
 * redrive applies nothing; a skip drops one event with its reason recorded.
 *
 * The projection bug is a test double: the orders projection, wrapped to
 * throw for chosen event ids while `fault.on`, given to the Projector (and to
 * the redrive) through their `spec`. Switching it off is "deploying the fix".
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { logLevel } from 'kafkajs';
import { parkedListing, parkedOf } from '../../consumers/query-api/parked';
import { AvroCodec } from '../../infra/kafka/codec';
import { readToEnd } from '../../infra/kafka/read-to-end';
import { rootLogger } from '../../infra/logging';
import { redrive, skip, type ActionContext } from '../../consumers/projections/redrive/actions';
import { listParked, showParked } from '../../consumers/projections/redrive/redrive';
import { Projector } from '../../consumers/projections/runtime/projector';
import { READ_MODEL_SPECS, type AnyProjection, type ReadModelSpec } from '../../consumers/projections/runtime/read-models';
import { checkpointKey, parkedKey, readModelPrefix, versionKey } from '../../consumers/projections/shared/keys';
import { MemoryStore } from '../../consumers/projections/shared/memory-store';
import { foldInto, type Envelope } from '../../consumers/projections/shared/projection';
import type { DeadLetterAction } from '../../schemas/generated/types';
import { partitionFor } from '../../schemas/partitioning';
import { allTopicSpecs, applyTopics } from '../../infra/kafka/topics';
import { DEAD_LETTER_ACTIONS_TOPIC, dlqTopicName } from '../../schemas/topics';
import { createTopicsAndWait, testKafka, testRedis, testRegistry, unique, withAdmin } from '../support/kafka';
import { DAY, HOUR, T0 } from '../support/projection-spec';
import { line, money, orderHistory } from '../support/order-histories';
import { runDlq } from '../support/operations';
import { dropKeys, produceEnvelopes, redisDump, waitForCheckpoint } from '../support/read-side';

jest.setTimeout(120_000);

const kafka = testKafka('it-parking', logLevel.NOTHING);
const redis = testRedis();
const codec = new AvroCodec(testRegistry());
const logger = rootLogger.child({ test: 'parking' });
logger.level = 'silent';
const PARTITIONS = 3;
const keyspace = unique('it-park').toLowerCase();
const undecodableKeyspace = unique('it-park-u').toLowerCase();
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const running: Projector[] = [];

type OrderEnvelope = Envelope<{ readonly type: string; readonly data: object }>;

/** The projection bug's test double: throws for the listed event ids while on. */
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

const ORDERS: OrderEnvelope[][] = Array.from({ length: 8 }, (_, i) =>
  orderHistory({
    orderId: `order-${i}`,
    customerId: `customer-${i % 3}`,
    lines: [line('pizza', 'Pizza', 1 + (i % 2), money(950)), line('cola', 'Cola', 1, money(300))],
    openedAt: T0 + i * HOUR,
    at: { placed: T0 + i * HOUR + 60_000, confirmed: T0 + i * HOUR + DAY / 2, preparing: T0 + i * HOUR + DAY / 2 + 1, ready: T0 + i * HOUR + DAY / 2 + 2 },
  }),
);

function fold(envelopes: readonly OrderEnvelope[], ks = keyspace) {
  const store = new MemoryStore();
  foldInto(store, real.projection, ks, envelopes);
  return store.dump(readModelPrefix(ks, 'orders'));
}

/** The orders read model without the runtime's bookkeeping (checkpoint; parked state, asserted on its own). */
async function readModel(ks = keyspace) {
  const dump = await redisDump(redis, readModelPrefix(ks, 'orders'));
  delete dump[checkpointKey(ks, 'orders')];
  for (const key of Object.keys(dump)) if (key.startsWith(`${readModelPrefix(ks, 'orders')}parked`)) delete dump[key];
  return dump;
}

async function parkedKeys(): Promise<string[]> {
  return Object.keys(await redisDump(redis, `${readModelPrefix(keyspace, 'orders')}parked`));
}

async function actionsOf(aggregateId: string, ks = keyspace): Promise<DeadLetterAction[]> {
  const out: DeadLetterAction[] = [];
  await readToEnd(kafka, [{ topic: DEAD_LETTER_ACTIONS_TOPIC }], async ({ message }) => {
    const decoded = await codec.decode(message.value);
    const action = decoded.value as DeadLetterAction;
    if (action.keyspace === ks && action.aggregateId === aggregateId) out.push(action);
  });
  return out;
}

beforeAll(async () => {
  await redis.connect();
  await producer.connect();
  // The audit topic as the catalog declares it (topics:apply's own code), so the roles find no drift later.
  await withAdmin(kafka, (admin) => applyTopics(admin, allTopicSpecs().filter((t) => t.name === DEAD_LETTER_ACTIONS_TOPIC)));
});

afterAll(async () => {
  for (const p of [...running]) await p.stop();
  await producer.disconnect();
  await dropKeys(redis, `rm:{${keyspace}}:*`);
  await dropKeys(redis, `rm:{${undecodableKeyspace}}:*`);
  await redis.quit();
});

describe('a poison event in the middle of one order', () => {
  const spec: ReadModelSpec = { ...real, projection: faultyProjection };
  const topic = unique('it.order.events');
  const poisoned = ORDERS[2] as OrderEnvelope[];
  const poisonAt = 4; // OrderPlaced (version 5): the order's read model must stop at version 4
  const poison = poisoned[poisonAt] as OrderEnvelope;
  const lastOnly = ORDERS[5] as OrderEnvelope[];
  const lastEvent = lastOnly[lastOnly.length - 1] as OrderEnvelope;
  const everything = ORDERS.flat();
  let projector: Projector;
  let ctx: ActionContext;

  beforeAll(async () => {
    fault.on = true;
    fault.eventIds = new Set([poison.metadata.eventId, lastEvent.metadata.eventId]);
    await createTopicsAndWait(kafka, [topic, dlqTopicName(topic)].map((t) => ({ topic: t, numPartitions: PARTITIONS, replicationFactor: 1 })));
    await produceEnvelopes(producer, codec, { topic, schemaTopic: 'restaurant.order.events', namespace: 'restaurant.order', partitions: PARTITIONS }, everything);
    const offsets = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
    const ends = new Map([[topic, new Map(offsets.filter((o) => Number(o.high) > 0).map((o) => [o.partition, Number(o.high) - 1]))]]);
    projector = new Projector({ kafka, codec, redis, logger, model: 'orders', spec, keyspace, topics: [topic], retry: { attempts: 2, initialDelayMs: 10, maxDelayMs: 10 } });
    await projector.start();
    running.push(projector);
    await waitForCheckpoint(redis, keyspace, 'orders', ends);
    ctx = { store: { redis, spec, keyspace }, codec, producer, actor: 'it-operator', why: 'projection fixed' };
  });

  it('parks that order at its last good version, says why, and applies every other order', async () => {
    const parked = await listParked({ redis, spec, keyspace });
    expect(parked.map((p) => p.aggregateId).sort()).toEqual(['order-2', 'order-5']);
    const order2 = parked.find((p) => p.aggregateId === 'order-2');
    expect(order2).toMatchObject({ reason: 'processing-failed', head: { eventId: poison.metadata.eventId, version: poison.metadata.version, type: 'OrderPlaced' } });
    expect(order2?.error).toContain('test double of a projection bug');
    // The poison event and everything after it of that order: recorded, not applied.
    const shown = await showParked({ redis, spec, keyspace }, 'order-2');
    expect(shown?.chain.map((e) => [e.role, e.version])).toEqual(poisoned.slice(poisonAt).map((e, i) => [i === 0 ? 'head' : 'behind', e.metadata.version]));
    expect(await redis.get(versionKey(keyspace, 'orders', 'order-2'))).toBe(String(poison.metadata.version - 1));
    // The read model: every other order whole, order-2 up to version 4, order-5 up to its last good version.
    const good = everything.filter((e) => !(e.metadata.aggregateId === 'order-2' && e.metadata.version >= poison.metadata.version) && e !== lastEvent);
    expect(await readModel()).toEqual(fold(good));
    // The heads went to the DLQ as before.
    const letters: string[] = [];
    await readToEnd(kafka, [{ topic: dlqTopicName(topic) }], ({ message }) => void letters.push(String(message.headers?.['dlq-reason'])));
    expect(letters).toEqual(['processing-failed', 'processing-failed']);
    expect(projector.sink.stats.parked).toBe(poisoned.length - poisonAt + 1);
  });

  it('the query side says which orders are parked and why', async () => {
    expect(await parkedOf(redis, keyspace, 'orders', 'order-2')).toMatchObject({ aggregateId: 'order-2', reason: 'processing-failed', head: { version: poison.metadata.version } });
    expect(await parkedOf(redis, keyspace, 'orders', 'order-1')).toBeNull();
    const server = http.createServer(express().get('/parked', (req, res, next) => void parkedListing(redis, keyspace)(req, res).catch(next)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/parked`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { readModels: Record<string, { keyspace: string; aggregates: { aggregateId: string; parkedEvents: number }[] }> };
      expect(body.readModels.orders).toEqual({
        keyspace,
        aggregates: expect.arrayContaining([
          expect.objectContaining({ aggregateId: 'order-2', parkedEvents: poisoned.length - poisonAt }),
          expect.objectContaining({ aggregateId: 'order-5', parkedEvents: 1 }),
        ]),
      });
      expect(body.readModels.orders?.aggregates).toHaveLength(2);
      expect(body.readModels.menu?.aggregates).toEqual([]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('npm run dlq lists the parked orders and shows one decoded, with its headers; bad input exits 2', async () => {
    const list = await runDlq(['list', '--model', 'orders', '--keyspace', keyspace]);
    expect(list.code).toBe(0);
    const listed = JSON.parse(list.stdout) as { consumerGroup: string; aggregateId: string; reason: string; keyspace: string }[];
    expect(listed.map((p) => [p.consumerGroup, p.aggregateId, p.reason, p.keyspace]).sort()).toEqual([
      [projector.groupId, 'order-2', 'processing-failed', keyspace],
      [projector.groupId, 'order-5', 'processing-failed', keyspace],
    ]);
    const show = await runDlq(['show', '--model', 'orders', '--keyspace', keyspace, '--aggregate', 'order-2']);
    expect(show.code).toBe(0);
    const shown = JSON.parse(show.stdout) as { parked: { head: { version: number } }; chain: { role: string; headers: Record<string, string>; value: { metadata: { eventId: string } } }[] };
    expect(shown.parked.head.version).toBe(poison.metadata.version);
    expect(shown.chain[0]).toMatchObject({ role: 'head', headers: { 'event-type': 'OrderPlaced' }, value: { metadata: { eventId: poison.metadata.eventId } } });
    const bad = await runDlq(['skip', '--model', 'orders', '--keyspace', keyspace, '--aggregate', 'order-5']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('skip needs a reason');
    expect((await listParked({ redis, spec, keyspace })).map((p) => p.aggregateId).sort()).toEqual(['order-2', 'order-5']);
  });

  it('after the fix, a redrive applies the parked chain: the read model equals a fold of every event; a second redrive applies nothing', async () => {
    fault.on = false; // the fix is deployed (order-5 stays parked for the tests below)
    const [first] = await redrive(ctx, { aggregateId: 'order-2' });
    expect(first).toMatchObject({ aggregateId: 'order-2', outcome: 'redriven', applied: poisoned.length - poisonAt });
    const withoutOrder5Last = everything.filter((e) => e !== lastEvent);
    expect(await readModel()).toEqual(fold(withoutOrder5Last));
    expect((await listParked({ redis, spec, keyspace })).map((p) => p.aggregateId)).toEqual(['order-5']);

    const [again] = await redrive(ctx, { aggregateId: 'order-2' });
    expect(again).toMatchObject({ outcome: 'not-parked', applied: 0 });
    expect(await readModel()).toEqual(fold(withoutOrder5Last));

    const actions = await actionsOf('order-2');
    expect(actions.map((a) => [a.action, a.outcome, a.applied, a.actor, a.why])).toEqual([
      ['redrive', 'redriven', poisoned.length - poisonAt, 'it-operator', 'projection fixed'],
      ['redrive', 'not-parked', 0, 'it-operator', 'projection fixed'],
    ]);
    expect(actions[0]?.events).toHaveLength(poisoned.length - poisonAt);
    expect(actions[0]?.consumerGroup).toBe(projector.groupId);
  });

  it('a redrive of a chain that still fails keeps it parked and applies nothing', async () => {
    fault.on = true; // order-5's last event still throws
    const before = await readModel();
    const [outcome] = await redrive(ctx, { reason: 'processing-failed' });
    expect(outcome).toMatchObject({ aggregateId: 'order-5', outcome: 'failed', applied: 0 });
    expect(outcome?.error).toContain('test double of a projection bug');
    expect(await readModel()).toEqual(before);
    expect((await listParked({ redis, spec, keyspace })).map((p) => p.aggregateId)).toEqual(['order-5']);
  });

  it('a skip drops the event unapplied, unparks the emptied chain and records who and why', async () => {
    const before = await readModel();
    // Through the CLI, as an operator would.
    const run = await runDlq(['skip', '--model', 'orders', '--keyspace', keyspace, '--aggregate', 'order-5', '--why', 'duplicate sent by a bug in 1.2; confirmed with support', '--actor', 'it-operator']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ outcome: 'skipped', unparked: true, events: [`${topic}:${await showOrder5Position()}`] });
    expect(await readModel()).toEqual(before);
    expect(await parkedKeys()).toEqual([]);
    expect(await redis.hlen(parkedKey(keyspace, 'orders'))).toBe(0);
    const actions = await actionsOf('order-5');
    expect(actions.map((a) => [a.action, a.outcome, a.actor, a.why])).toEqual([
      ['redrive', 'failed', 'it-operator', 'projection fixed'],
      ['skip', 'skipped', 'it-operator', 'duplicate sent by a bug in 1.2; confirmed with support'],
    ]);
    expect(actions[1]?.consumerGroup).toBe(projector.groupId);
  });

  /** order-5's last event's "<partition>:<offset>" as the DLQ recorded it. */
  async function showOrder5Position(): Promise<string> {
    let position = '';
    await readToEnd(kafka, [{ topic: dlqTopicName(topic) }], ({ message }) => {
      if (String(message.headers?.['event-type']) === lastEvent.event.type) position = `${String(message.headers?.['dlq-partition'])}:${String(message.headers?.['dlq-offset'])}`;
    });
    return position;
  }
});

describe('an event that cannot be decoded, in the middle of one order', () => {
  const ks = undecodableKeyspace;
  const topic = unique('it.order.events');
  const orders = Array.from({ length: 3 }, (_, i) =>
    orderHistory({ orderId: `order-u-${i}`, customerId: 'customer-u', lines: [line('pizza', 'Pizza', 1, money(950)), line('cola', 'Cola', 2, money(300))], openedAt: T0 + i * HOUR, at: { placed: T0 + i * HOUR + 60_000, confirmed: T0 + i * HOUR + DAY / 2 } }),
  );
  const victim = orders[1] as OrderEnvelope[];
  const lost = victim[2] as OrderEnvelope; // version 3 (the second line added): arrives as bytes nobody can decode
  const spec = real;
  const store = { redis, spec, keyspace: ks };
  let ctx: ActionContext;

  beforeAll(async () => {
    await createTopicsAndWait(kafka, [topic, dlqTopicName(topic)].map((t) => ({ topic: t, numPartitions: PARTITIONS, replicationFactor: 1 })));
    const target = { topic, schemaTopic: 'restaurant.order.events', namespace: 'restaurant.order', partitions: PARTITIONS };
    const others = orders.filter((o) => o !== victim).flat();
    await produceEnvelopes(producer, codec, target, [...others, ...victim.slice(0, 2)]);
    await producer.send({
      topic,
      acks: -1,
      messages: [{ key: `order-u-1/${lost.metadata.version}`, value: Buffer.from('not avro at all'), partition: partitionFor('order-u-1', PARTITIONS), headers: { 'event-type': lost.event.type } }],
    });
    await produceEnvelopes(producer, codec, target, victim.slice(3));
    const offsets = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
    const ends = new Map([[topic, new Map(offsets.filter((o) => Number(o.high) > 0).map((o) => [o.partition, Number(o.high) - 1]))]]);
    const p = new Projector({ kafka, codec, redis, logger, model: 'orders', keyspace: ks, topics: [topic], retry: { attempts: 2, initialDelayMs: 10, maxDelayMs: 10 } });
    await p.start();
    running.push(p);
    await waitForCheckpoint(redis, ks, 'orders', ends);
    ctx = { store, codec, producer, actor: 'it-operator', why: 'looking into the garbage' };
  });

  it('parks the order by its key behind the undecodable message; the others are applied', async () => {
    const parked = await listParked(store);
    expect(parked).toHaveLength(1);
    expect(parked[0]).toMatchObject({ aggregateId: 'order-u-1', reason: 'not-avro', head: { version: lost.metadata.version, eventId: '', type: lost.event.type } });
    const shown = await showParked(store, 'order-u-1');
    expect(shown?.chain.map((e) => [e.role, e.version])).toEqual(victim.slice(2).map((e, i) => [i === 0 ? 'head' : 'behind', e.metadata.version]));
    const all = orders.flat();
    expect(await readModel(ks)).toEqual(fold(all.filter((e) => !(e.metadata.aggregateId === 'order-u-1' && e.metadata.version >= lost.metadata.version)), ks));
  });

  it('a redrive still cannot decode it and applies nothing; skipping it with a reason and redriving the rest applies the rest in order', async () => {
    const before = await readModel(ks);
    const [failed] = await redrive(ctx, { all: true });
    expect(failed).toMatchObject({ aggregateId: 'order-u-1', outcome: 'failed', applied: 0 });
    expect(await readModel(ks)).toEqual(before);

    const skipped = await skip({ ...ctx, why: 'garbage from a broken producer; the line was added again by the customer' }, 'order-u-1');
    expect(skipped).toMatchObject({ outcome: 'skipped', unparked: false });
    // Still parked, now behind the next event, and still nothing applied.
    expect((await listParked(store)).map((p) => [p.aggregateId, p.head.version])).toEqual([['order-u-1', lost.metadata.version + 1]]);
    expect(await readModel(ks)).toEqual(before);

    const [redriven] = await redrive({ ...ctx, why: 'the rest after the skip' }, { aggregateId: 'order-u-1' });
    expect(redriven).toMatchObject({ outcome: 'redriven', applied: victim.length - 3 });
    expect(await readModel(ks)).toEqual(fold(orders.flat().filter((e) => e !== lost), ks));
    expect(await listParked(store)).toEqual([]);
    expect((await actionsOf('order-u-1', ks)).map((a) => [a.action, a.outcome, a.applied])).toEqual([
      ['redrive', 'failed', 0],
      ['skip', 'skipped', 0],
      ['redrive', 'redriven', victim.length - 3],
    ]);
  });
});
