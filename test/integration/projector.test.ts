/**
 * The projector runtime against the real Kafka, registry and Redis, on topics
 * of its own (so poison never reaches the real events topics) and a keyspace of
 * its own: poison messages go to the DLQ and the projection carries on; a replay
 * of the same events (Redis checkpoint and Kafka offsets both reset) leaves the
 * read models as they were, no counter doubled.
 */
import { logLevel } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { rootLogger } from '../../infra/logging';
import { Projector } from '../../consumers/projections/runtime/projector';
import { MemoryStore } from '../../consumers/projections/shared/memory-store';
import { foldInto, type Envelope } from '../../consumers/projections/shared/projection';
import { checkpointKey, readModelPrefix, type ReadModelName } from '../../consumers/projections/shared/keys';
import { READ_MODEL_SPECS } from '../../consumers/projections/runtime/read-models';
import { dlqTopicName } from '../../schemas/topics';
import { createTopicsAndWait, testKafka, testRedis, testRegistry, unique, withAdmin } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { DAY, HOUR, T0, history, metadata } from '../support/projection-spec';
import { line, money, orderHistory } from '../support/order-histories';
import { dropKeys, produceEnvelopes, redisDump, waitForCheckpoint } from '../support/read-side';
import { readToEnd } from '../../infra/kafka/read-to-end';
import { partitionFor } from '../../schemas/partitioning';

jest.setTimeout(120_000);

const kafka = testKafka('it-projector', logLevel.NOTHING);
const redis = testRedis();
const codec = new AvroCodec(testRegistry());
const logger = rootLogger.child({ test: 'projector' });
logger.level = 'silent';
const PARTITIONS = 3;
const keyspace = unique('it').toLowerCase();
// Idempotent: kafkajs retries a whole produce request when one partition of a new topic answers with an error, and
// without idempotence the partitions that had succeeded would get the test's input twice.
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const running: Projector[] = [];

async function createTopic(name: string): Promise<void> {
  await createTopicsAndWait(kafka, [name, dlqTopicName(name)].map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })));
}

async function projector(model: ReadModelName, topic: string): Promise<Projector> {
  const p = new Projector({ kafka, codec, redis, logger, model, keyspace, topics: [topic], retry: { attempts: 2, initialDelayMs: 10, maxDelayMs: 10 } });
  await p.start();
  running.push(p);
  return p;
}

async function stop(p: Projector): Promise<void> {
  await p.stop();
  running.splice(running.indexOf(p), 1);
}

/** Last offset per partition of a topic (high watermark - 1), for partitions that have data. */
async function lastOffsets(topic: string): Promise<Map<string, Map<number, number>>> {
  const offsets = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
  return new Map([[topic, new Map(offsets.filter((o) => Number(o.high) > 0).map((o) => [o.partition, Number(o.high) - 1]))]]);
}

beforeAll(async () => {
  await redis.connect();
  await producer.connect();
});

afterAll(async () => {
  for (const p of [...running]) await p.stop();
  await producer.disconnect();
  await dropKeys(redis, `rm:{${keyspace}}:*`);
  await redis.quit();
});

const ORDERS = Array.from({ length: 24 }, (_, i) =>
  orderHistory({
    orderId: `order-${i}`,
    customerId: `customer-${i % 5}`,
    lines: [line('pizza', 'Pizza', 1 + (i % 3), money(950)), line('cola', 'Cola', 1, money(300))],
    openedAt: T0 + i * HOUR,
    at: { placed: T0 + i * HOUR + 60_000, ...(i % 4 === 3 ? {} : { confirmed: T0 + i * HOUR + DAY / 2 }), ...(i % 2 === 0 ? { preparing: T0 + i * HOUR + DAY / 2 + 1 } : {}) },
    ...(i % 6 === 1 ? { cancelled: { at: T0 + i * HOUR + DAY, reason: 'changed my mind' } } : {}),
  }),
).flat();

function expected(model: ReadModelName, envelopes: readonly Envelope<{ readonly type: string }>[]) {
  const store = new MemoryStore();
  foldInto(store, READ_MODEL_SPECS[model].projection, keyspace, envelopes);
  return store.dump(readModelPrefix(keyspace, model));
}

/** A dump without the runtime's checkpoint (offsets are not part of the read model). */
async function dumpOf(model: ReadModelName) {
  const dump = await redisDump(redis, readModelPrefix(keyspace, model));
  delete dump[checkpointKey(keyspace, model)];
  return dump;
}

describe('a projector replaying the same events', () => {
  it('leaves orders, kitchen and sales exactly as a fold of the events, twice over', async () => {
    const topic = unique('it.order.events');
    await createTopic(topic);
    await produceEnvelopes(producer, codec, { topic, schemaTopic: 'restaurant.order.events', namespace: 'restaurant.order', partitions: PARTITIONS }, ORDERS);
    const ends = await lastOffsets(topic);
    const models: ReadModelName[] = ['orders', 'kitchen', 'sales'];
    let projectors = await Promise.all(models.map((m) => projector(m, topic)));
    for (const m of models) await waitForCheckpoint(redis, keyspace, m, ends);
    const first = Object.fromEntries(await Promise.all(models.map(async (m) => [m, await dumpOf(m)] as const)));
    for (const m of models) expect(first[m]).toEqual(expected(m, ORDERS));
    expect(Object.keys(first.sales ?? {}).some((k) => k.includes(':sales:day:'))).toBe(true);

    // Delivered again: the Redis checkpoints reset to 0 and the group's Kafka offsets deleted.
    await Promise.all(projectors.map(stop));
    await withAdmin(kafka, (admin) => admin.deleteGroups(projectors.map((p) => p.groupId)));
    for (const m of models) await redis.hset(checkpointKey(keyspace, m), Object.fromEntries([...(ends.get(topic) ?? new Map()).keys()].map((p) => [`${topic}:${p}`, '0'])));
    projectors = await Promise.all(models.map((m) => projector(m, topic)));
    for (const m of models) await waitForCheckpoint(redis, keyspace, m, ends);
    const stats = projectors.map((p) => p.sink.stats);
    // Every event was redelivered and skipped by the guard.
    expect(stats.every((s) => s.applied === 0 && s.skipped > 0)).toBe(true);
    for (const m of models) expect(await dumpOf(m)).toEqual(first[m]);
    await Promise.all(projectors.map(stop));
  });

  it('rebuilds a partition whose checkpoint is past the end of the topic (a recreated topic), instead of waiting for offsets that will not come', async () => {
    const topic = unique('it.menu.events');
    await createTopic(topic);
    const items = history<{ readonly type: string; readonly data: object }>('menu-item-ahead', [
      [{ type: 'MenuItemAdded', data: { name: 'Soup', description: 'hot', category: 'STARTER', price: money(450) } }, T0],
      [{ type: 'MenuItemPriceChanged', data: { previousPrice: money(450), price: money(500) } }, T0 + HOUR],
    ]);
    await produceEnvelopes(producer, codec, { topic, schemaTopic: 'restaurant.menu.events', namespace: 'restaurant.menu', partitions: PARTITIONS }, items);
    const ends = await lastOffsets(topic);
    const partition = [...(ends.get(topic) ?? new Map()).keys()][0] as number;
    // What a Redis that outlived its Kafka holds: a checkpoint far beyond anything this topic has.
    await redis.hset(checkpointKey(keyspace, 'menu'), `${topic}:${partition}`, '1000000');
    const p = await projector('menu', topic);
    await waitFor('the menu item applied', async () => ((await redis.hget(`${readModelPrefix(keyspace, 'menu')}item:menu-item-ahead`, 'priceMinor')) === '500' ? true : undefined));
    const checkpoint = Number(await redis.hget(checkpointKey(keyspace, 'menu'), `${topic}:${partition}`));
    expect(checkpoint).toBe((ends.get(topic)?.get(partition) ?? NaN) + 1);
    expect(p.consumer.stats.rebuilds).toBeGreaterThan(0);
    await stop(p);
  });
});

describe('poison on an events topic', () => {
  it('goes to the DLQ with its reason, and the events after it are applied', async () => {
    const topic = unique('it.menu.events');
    await createTopic(topic);
    const added = (id: string, version: number) =>
      history(id, [[{ type: 'MenuItemAdded', data: { name: `Dish ${id}`, description: 'd', category: 'MAIN', price: money(1200) } }, T0 + version]], version);
    await produceEnvelopes(producer, codec, { topic, schemaTopic: 'restaurant.menu.events', namespace: 'restaurant.menu', partitions: PARTITIONS }, added('before', 1));
    const p = await projector('menu', topic);

    const valid = await codec.encode('restaurant.menu.events', 'restaurant.menu.MenuItemAdded', { name: 'x', description: 'y', category: 'MAIN', price: money(1), metadata: metadata('m', 1, T0) });
    const wrongMagic = Buffer.from(valid);
    wrongMagic.writeUInt8(1, 0);
    const unknownId = Buffer.from(valid);
    unknownId.writeInt32BE(987_654_321, 1);
    const poison = [
      { kind: 'garbage', value: Buffer.from('this is not avro at all'), reason: 'not-avro' },
      { kind: 'unknown schema id', value: unknownId, reason: 'unknown-schema-id' },
      { kind: 'wrong magic byte', value: wrongMagic, reason: 'not-avro' },
    ];
    // All on the partition of the valid event that follows them, so "after" is well defined.
    const partition = partitionFor('after', PARTITIONS);
    await producer.send({ topic, acks: -1, messages: poison.map((m) => ({ key: `poison/${m.kind}`, value: m.value, partition, headers: { 'x-test': m.kind } })) });
    await produceEnvelopes(producer, codec, { topic, schemaTopic: 'restaurant.menu.events', namespace: 'restaurant.menu', partitions: PARTITIONS }, added('after', 1));

    await waitFor('the item after the poison', async () => ((await redis.exists(`rm:{${keyspace}}:menu:item:after`)) === 1 ? true : undefined));
    expect(await redis.hget(`rm:{${keyspace}}:menu:item:before`, 'name')).toBe('Dish before');

    const letters: { headers: Record<string, string>; value: string }[] = [];
    await readToEnd(kafka, [{ topic: dlqTopicName(topic) }], ({ message }) => {
      letters.push({
        headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(Array.isArray(v) ? v[0] : v)])),
        value: message.value?.toString('hex') ?? '',
      });
    });
    expect(letters).toHaveLength(3);
    for (const m of poison) {
      const letter = letters.find((l) => l.headers['x-test'] === m.kind);
      expect(letter?.value).toBe(m.value.toString('hex'));
      expect(letter?.headers).toMatchObject({
        'dlq-reason': m.reason,
        'dlq-topic': topic,
        'dlq-partition': String(partition),
        'dlq-consumer-group': p.groupId,
      });
      expect(letter?.headers['dlq-error']).toBeTruthy();
      expect(Number(letter?.headers['dlq-offset'])).toBeGreaterThanOrEqual(0);
    }
    expect(p.consumer.stats.deadLettered).toBe(3);
    await stop(p);
  });
});
