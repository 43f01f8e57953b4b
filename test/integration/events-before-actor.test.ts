/**
 * Events written before `metadata.actor` existed replay into the same read
 * models as before. A history is written twice, on topics and keyspaces of
 * this test's own: once encoded with the old schemas (the event schemas without
 * the field, registered first, so the topic holds old-format records with old
 * schema ids), once with today's schemas carrying actors (registered second
 * under the same subjects: the BACKWARD_TRANSITIVE gate admits them). The
 * projectors then build all five read models from each topic set, and both
 * equal an independent fold of the events. The old records also decode where
 * the process managers read them (the loyalty policy decides the same from
 * them).
 */
import { logLevel } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { config } from '../../infra/config';
import { rootLogger } from '../../infra/logging';
import { readToEnd } from '../../infra/kafka/read-to-end';
import { Projector } from '../../consumers/projections/runtime/projector';
import { READ_MODEL_SPECS } from '../../consumers/projections/runtime/read-models';
import type { DecodedRecord } from '../../infra/consuming/batch-sink';
import { MemoryStore, type StoreDump } from '../../consumers/projections/shared/memory-store';
import { foldInto, type Envelope } from '../../consumers/projections/shared/projection';
import { READ_MODELS, readModelPrefix, type ReadModelName } from '../../consumers/projections/shared/keys';
import { loyaltyProcess } from '../../consumers/loyalty/loyalty.process';
import type { Actor, EventMetadata } from '../../schemas/generated/types';
import { AGGREGATE_NAMESPACES, dlqTopicName, subjectName } from '../../schemas/topics';
import { schemasBeforeActor } from '../support/before-actor';
import { createTopicsAndWait, testKafka, testRedis, testRegistry, unique, withAdmin } from '../support/kafka';
import { DAY, HOUR, T0, history } from '../support/projection-spec';
import { line, money, orderHistory } from '../support/order-histories';
import { actualReadModel, dropKeys, produceEnvelopes, waitForCheckpoint, type TopicEnds } from '../support/read-side';

jest.setTimeout(180_000);

const kafka = testKafka('it-events-before-actor', logLevel.NOTHING);
const redis = testRedis();
const registry = testRegistry();
const codec = new AvroCodec(registry);
const oldCodec = new AvroCodec(registry, schemasBeforeActor());
const logger = rootLogger.child({ test: 'events-before-actor' });
logger.level = 'silent';
const PARTITIONS = 3;
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const running: Projector[] = [];

type AnyEvent = { readonly type: string; readonly data: object };
type Source = 'menu' | 'customer' | 'order';
const SOURCES: readonly Source[] = ['menu', 'customer', 'order'];
/** Which of this test's sources each read model reads (the real models read the same aggregates' events topics). */
const MODEL_SOURCE: Readonly<Record<ReadModelName, Source>> = { menu: 'menu', customers: 'customer', orders: 'order', kitchen: 'order', sales: 'order' };

const MENU: Envelope<AnyEvent>[] = [
  ...history<AnyEvent>('m-soup', [
    [{ type: 'MenuItemAdded', data: { name: 'Soup', description: 'hot', category: 'STARTER', price: money(450) } }, T0],
    [{ type: 'MenuItemPriceChanged', data: { previousPrice: money(450), price: money(500) } }, T0 + HOUR],
    [{ type: 'MenuItemSoldOut', data: {} }, T0 + 2 * HOUR],
    [{ type: 'MenuItemBackInStock', data: {} }, T0 + 3 * HOUR],
  ]),
  ...history<AnyEvent>('m-pizza', [
    [{ type: 'MenuItemAdded', data: { name: 'Pizza', description: 'round', category: 'MAIN', price: money(950) } }, T0],
    [{ type: 'MenuItemRemoved', data: {} }, T0 + DAY],
  ]),
];
const home = { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' };
const CUSTOMERS: Envelope<AnyEvent>[] = Array.from({ length: 5 }, (_, i) =>
  history<AnyEvent>(`customer-${i}`, [
    [{ type: 'CustomerSignedUp', data: { name: `Customer ${i}`, email: `customer-${i}@example.com` } }, T0 + i],
    [{ type: 'CustomerNameChanged', data: { name: `Customer ${i} Renamed` } }, T0 + HOUR + i],
    [{ type: 'DeliveryAddressAdded', data: { addressId: 'home', address: home } }, T0 + 2 * HOUR + i],
    ...(i % 2 === 0 ? [[{ type: 'DeliveryAddressRemoved', data: { addressId: 'home' } }, T0 + 3 * HOUR + i] as const] : []),
  ]),
).flat();
const ORDERS: Envelope<AnyEvent>[] = Array.from({ length: 12 }, (_, i) =>
  orderHistory({
    orderId: `order-${i}`,
    customerId: `customer-${i % 5}`,
    lines: [line('m-soup', 'Soup', 1 + (i % 3), money(500)), line('m-cola', 'Cola', 1, money(300))],
    openedAt: T0 + i * HOUR,
    at: {
      placed: T0 + i * HOUR + 60_000,
      ...(i % 4 === 3 ? {} : { confirmed: T0 + i * HOUR + DAY / 2, preparing: T0 + i * HOUR + DAY / 2 + 1 }),
      ...(i % 3 === 0 && i % 4 !== 3 ? { ready: T0 + i * HOUR + DAY / 2 + 2, dispatched: T0 + i * HOUR + DAY / 2 + 3, delivered: T0 + i * HOUR + DAY } : {}),
    },
    ...(i % 4 === 3 ? { cancelled: { at: T0 + i * HOUR + DAY, reason: 'changed my mind' } } : {}),
  }),
).flat();
const HISTORY: Readonly<Record<Source, Envelope<AnyEvent>[]>> = { menu: MENU, customer: CUSTOMERS, order: ORDERS };

/** The same history as today's writers record it: with who caused each event. */
const withActors = (envelopes: readonly Envelope<AnyEvent>[]): Envelope<AnyEvent>[] =>
  envelopes.map(({ event, metadata }) => {
    const actor: Actor = event.type.startsWith('Menu') ? { subject: 'mgr-1', roles: ['manager'] } : { subject: metadata.aggregateId, roles: ['customer'] };
    return { event, metadata: { ...metadata, actor } };
  });
/** As written before actors existed: the metadata has no actor at all. */
const beforeActors = (envelopes: readonly Envelope<AnyEvent>[]): Envelope<AnyEvent>[] =>
  envelopes.map(({ event, metadata }) => {
    const { actor: _none, ...old } = metadata;
    return { event, metadata: old as EventMetadata };
  });

interface TopicSet {
  readonly keyspace: string;
  readonly topics: Readonly<Record<Source, string>>;
}

function topicSet(label: string): TopicSet {
  const id = unique(label);
  return { keyspace: id.toLowerCase(), topics: { menu: `it.${id}.menu.events`, customer: `it.${id}.customer.events`, order: `it.${id}.order.events` } };
}

const oldSet = topicSet('before-actor');
const newSet = topicSet('with-actor');

async function createTopics(set: TopicSet): Promise<void> {
  await createTopicsAndWait(
    kafka,
    Object.values(set.topics).flatMap((t) => [t, dlqTopicName(t)]).map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })),
  );
}

/** Writes the whole history to a set's topics; subjects are always the old set's, so both schema versions share them. */
async function write(set: TopicSet, writer: AvroCodec, transform: (e: readonly Envelope<AnyEvent>[]) => Envelope<AnyEvent>[]): Promise<void> {
  for (const source of SOURCES) {
    const opts = { topic: set.topics[source], schemaTopic: oldSet.topics[source], namespace: AGGREGATE_NAMESPACES[source], partitions: PARTITIONS };
    await produceEnvelopes(producer, writer, opts, transform(HISTORY[source]));
  }
}

async function ends(set: TopicSet): Promise<TopicEnds> {
  const out: TopicEnds = new Map();
  for (const topic of Object.values(set.topics)) {
    const offsets = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
    out.set(topic, new Map(offsets.filter((o) => Number(o.high) > 0).map((o) => [o.partition, Number(o.high) - 1])));
  }
  return out;
}

/** Runs every read model's projector over a set's topics until caught up, and returns the read models. */
async function project(set: TopicSet): Promise<Record<ReadModelName, StoreDump>> {
  const projectors = await Promise.all(
    READ_MODELS.map(async (model) => {
      const p = new Projector({ kafka, codec, redis, logger, model, keyspace: set.keyspace, topics: [set.topics[MODEL_SOURCE[model]]], retry: { attempts: 2, initialDelayMs: 10, maxDelayMs: 10 } });
      await p.start();
      running.push(p);
      return p;
    }),
  );
  // The models read the test's topics, not the catalog's (which waitForReadModels would filter on): wait per model on its own topic's ends.
  const topicEnds = await ends(set);
  for (const model of READ_MODELS) {
    const topic = set.topics[MODEL_SOURCE[model]];
    const last = topicEnds.get(topic);
    expect(last?.size ?? 0).toBeGreaterThan(0);
    await waitForCheckpoint(redis, set.keyspace, model, new Map([[topic, last ?? new Map()]]));
  }
  for (const p of projectors) {
    await p.stop();
    running.splice(running.indexOf(p), 1);
    expect(p.consumer.stats.deadLettered).toBe(0);
  }
  const dumps = await Promise.all(READ_MODELS.map(async (m) => [m, await actualReadModel(redis, set.keyspace, m)] as const));
  return Object.fromEntries(dumps) as Record<ReadModelName, StoreDump>;
}

/** The independent verifier: the pure projections folded over the history in memory. */
function folded(model: ReadModelName, keyspace: string, envelopes: readonly Envelope<AnyEvent>[]): StoreDump {
  const store = new MemoryStore();
  foldInto(store, READ_MODEL_SPECS[model].projection, keyspace, envelopes);
  return store.dump(readModelPrefix(keyspace, model));
}

/** A dump with its keyspace renamed, to compare models built in two keyspaces. */
const renamed = (dump: StoreDump, from: string, to: string): StoreDump =>
  Object.fromEntries(Object.entries(dump).map(([k, v]) => [k.split(`{${from}}`).join(`{${to}}`), v]));

/** Every record of a topic, decoded by today's codec as the projectors and process managers decode them. */
async function decodedRecords(topic: string): Promise<DecodedRecord[]> {
  const records: DecodedRecord[] = [];
  await readToEnd(kafka, [{ topic }], async ({ partition, message }) => {
    const decoded = await codec.decode(message.value);
    records.push({
      topic,
      partition,
      offset: Number(message.offset),
      key: message.key,
      rawValue: message.value,
      headers: message.headers,
      type: decoded.fullName.split('.').pop() ?? '',
      fullName: decoded.fullName,
      value: decoded.value,
    });
  });
  return records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

async function registeredSchema(id: number): Promise<string> {
  const res = await fetch(`${config().registry.url}/schemas/ids/${id}`);
  if (!res.ok) throw new Error(`registry: schema ${id} answered ${res.status}`);
  return ((await res.json()) as { schema: string }).schema;
}

beforeAll(async () => {
  await redis.connect();
  await producer.connect();
  await createTopics(oldSet);
  await createTopics(newSet);
  // Old first, then new, under the same subjects: the order an upgrade registers them in.
  await write(oldSet, oldCodec, beforeActors);
  await write(newSet, codec, withActors);
});

afterAll(async () => {
  for (const p of [...running]) await p.stop();
  await producer.disconnect();
  for (const set of [oldSet, newSet]) await dropKeys(redis, `rm:{${set.keyspace}}:*`);
  await redis.quit();
});

describe('events written before metadata.actor', () => {
  it('are genuinely old-format: old schema ids, without the field, and the new schema is a later version of the same subject', async () => {
    const oldIds = new Set<number>();
    for (const source of SOURCES) {
      await readToEnd(kafka, [{ topic: oldSet.topics[source] }], ({ message }) => {
        oldIds.add((message.value as Buffer).readInt32BE(1));
      });
    }
    for (const id of oldIds) expect(await registeredSchema(id)).not.toContain('"actor"');
    const orderPlaced = 'restaurant.order.OrderPlaced';
    const subject = subjectName(oldSet.topics.order, orderPlaced);
    const versions = (await (await fetch(`${config().registry.url}/subjects/${encodeURIComponent(subject)}/versions`)).json()) as number[];
    expect(versions).toEqual([1, 2]);
    const [v1, v2] = [await oldCodec.schemaId(oldSet.topics.order, orderPlaced), await codec.schemaId(oldSet.topics.order, orderPlaced)];
    expect(v1).not.toBe(v2);
    expect(oldIds).toContain(v1);
    expect(await registeredSchema(v2)).toContain('"actor"');
  });

  it('replay into the same read models as the same events written with actors, each equal to an independent fold', async () => {
    const before = await project(oldSet);
    const after = await project(newSet);
    for (const model of READ_MODELS) {
      const source = HISTORY[MODEL_SOURCE[model]];
      expect(Object.keys(before[model]).length).toBeGreaterThan(0);
      expect(before[model]).toEqual(folded(model, oldSet.keyspace, source));
      expect(after[model]).toEqual(folded(model, newSet.keyspace, withActors(source)));
      expect(renamed(before[model], oldSet.keyspace, newSet.keyspace)).toEqual(after[model]);
    }
  });

  it('decode with actor null where the process managers read them, and the loyalty policy decides the same as from new ones', async () => {
    const oldRecords = await decodedRecords(oldSet.topics.order);
    const newRecords = await decodedRecords(newSet.topics.order);
    expect(oldRecords).toHaveLength(ORDERS.length);
    for (const r of oldRecords) expect((r.value as { metadata: EventMetadata }).metadata.actor).toBeNull();

    const loyalty = loyaltyProcess();
    const decideAll = async (records: readonly DecodedRecord[]) => {
      const relevant = records.filter((r) => loyalty.handles.has(r.type));
      const inputs = await loyalty.inputsFor(relevant, () => undefined);
      const states = new Map<string, ReturnType<typeof loyalty.initialState>>();
      const emitted: unknown[] = [];
      for (const input of inputs) {
        if (input === null) continue;
        const id = loyalty.processId(input);
        const decision = loyalty.decide(input, states.get(id) ?? loyalty.initialState(id));
        states.set(id, decision.state);
        emitted.push(...decision.emit.map((m) => m.value));
      }
      return { emitted, states: Object.fromEntries([...states].sort(([a], [b]) => (a < b ? -1 : 1))) };
    };
    const fromOld = await decideAll(oldRecords);
    expect(fromOld.emitted.length).toBeGreaterThan(0);
    expect(fromOld).toEqual(await decideAll(newRecords));
  });
});
