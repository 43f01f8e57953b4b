/**
 * A caught-up projector shows a lag of 0, on a topic written in transactions as
 * the command processor writes its events, so every partition ends with a
 * commit marker: an offset that holds no record and that no read-committed
 * consumer is handed. Read three ways: restaurant_consumer_lag_messages (the
 * lag monitor every role runs), the group's committed offsets against the end
 * offsets, and Kafka's own kafka-consumer-groups. While running, and idle
 * after a restart (which seeks to the Redis checkpoint, the offset of the
 * marker). Committing past markers skips nothing: records written after them
 * are applied, an aborted transaction is not, and an open transaction holds
 * the committed offset at its first record.
 */
import { logLevel, type Producer } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { rootLogger } from '../../infra/logging';
import { LagMonitor } from '../../infra/metrics/lag-monitor';
import { Metrics } from '../../infra/metrics/registry';
import { Projector } from '../../consumers/projections/runtime/projector';
import { READ_MODEL_SPECS } from '../../consumers/projections/runtime/read-models';
import { parseCheckpoint } from '../../consumers/projections/runtime/redis-batch';
import { MemoryStore } from '../../consumers/projections/shared/memory-store';
import { foldInto, type Envelope } from '../../consumers/projections/shared/projection';
import { checkpointKey, readModelPrefix } from '../../consumers/projections/shared/keys';
import { partitionFor } from '../../schemas/partitioning';
import { dlqTopicName } from '../../schemas/topics';
import { createTopicsAndWait, testKafka, testRedis, testRegistry, unique } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { groupPositions, lagFromConsumerGroups, lagFromMetrics } from '../support/lag';
import { T0, HOUR, history } from '../support/projection-spec';
import { money } from '../support/order-histories';
import { dropKeys, produceEnvelopes, redisDump } from '../support/read-side';

jest.setTimeout(180_000);

const kafka = testKafka('it-consumer-lag', logLevel.NOTHING);
const redis = testRedis();
const codec = new AvroCodec(testRegistry());
const logger = rootLogger.child({ test: 'consumer-lag' });
logger.level = 'silent';
const PARTITIONS = 3;
const keyspace = unique('lag').toLowerCase();
const topic = unique('it.menu.events');
const producer: Producer = kafka.producer({ transactionalId: unique('it-consumer-lag'), idempotent: true, maxInFlightRequests: 1 });
const metrics = new Metrics({ defaultMetrics: false });
let group = '';
const lagMonitor = new LagMonitor({ kafka, metrics, logger, groups: () => (group === '' ? [] : [{ group, topics: [topic] }]), maxAgeMs: 0 });
let running: Projector | undefined;
/** Where the running projector has read each partition to (markers included), as it reports. */
const read = new Map<number, number>();

type MenuEvent = { readonly type: string; readonly data: object };
const written: Envelope<MenuEvent>[] = [];

/** One menu item per partition, so every partition gets each transaction's records and marker. */
const items: string[] = [];
for (let i = 0; items.length < PARTITIONS; i += 1) {
  const id = `lag-item-${i}`;
  if (!items.some((other) => partitionFor(other, PARTITIONS) === partitionFor(id, PARTITIONS))) items.push(id);
}

const added = (version: number): Envelope<MenuEvent>[] =>
  items.flatMap((id) => history<MenuEvent>(id, [[{ type: 'MenuItemAdded', data: { name: `Dish ${id}`, description: 'd', category: 'MAIN', price: money(1000) } }, T0]], version));
const repriced = (version: number, amount: number): Envelope<MenuEvent>[] =>
  items.flatMap((id) =>
    history<MenuEvent>(id, [[{ type: 'MenuItemPriceChanged', data: { previousPrice: money(amount - 100), price: money(amount) } }, T0 + version * HOUR]], version),
  );

/** Writes the events in one transaction, committed or aborted (then nothing of it counts). */
async function inTransaction(envelopes: Envelope<MenuEvent>[], outcome: 'commit' | 'abort' = 'commit'): Promise<void> {
  const transaction = await producer.transaction();
  await produceEnvelopes(transaction, codec, { topic, schemaTopic: 'restaurant.menu.events', namespace: 'restaurant.menu', partitions: PARTITIONS }, envelopes);
  if (outcome === 'commit') {
    await transaction.commit();
    written.push(...envelopes);
  } else await transaction.abort();
}

async function start(): Promise<Projector> {
  read.clear();
  const p = new Projector({
    kafka,
    codec,
    redis,
    logger,
    model: 'menu',
    keyspace,
    topics: [topic],
    metrics,
    onProgress: ({ partition, position }) => read.set(partition, position),
  });
  group = p.groupId;
  await p.start();
  running = p;
  return p;
}

async function stop(): Promise<void> {
  await running?.stop();
  running = undefined;
}

/** The read model equals a fold of the committed events: nothing skipped, nothing of an aborted transaction. */
async function expectModelOfWrittenEvents(): Promise<void> {
  const store = new MemoryStore();
  foldInto(store, READ_MODEL_SPECS.menu.projection, keyspace, written);
  const actual = await redisDump(redis, readModelPrefix(keyspace, 'menu'));
  delete actual[checkpointKey(keyspace, 'menu')];
  expect(actual).toEqual(store.dump(readModelPrefix(keyspace, 'menu')));
}

/** Resolves once every partition's Redis checkpoint is past its last record (the offset of the commit marker that follows). */
async function waitForApplied(): Promise<Map<number, number>> {
  return waitFor('every partition applied up to its commit marker', async () => {
    const ends = await groupPositions(kafka, group, topic);
    const checkpoints = parseCheckpoint(await redis.hgetall(checkpointKey(keyspace, 'menu'))).get(topic) ?? new Map<number, number>();
    const done = [...ends].every(([p, { end }]) => checkpoints.get(p) === end - 1);
    return done ? checkpoints : undefined;
  });
}

/** Waits until the lag reads 0 on every partition in the metric and in the group's offsets; returns the end offsets. */
async function waitForZeroLag(what: string): Promise<Map<number, number>> {
  return waitFor(
    `a lag of 0 ${what}`,
    async () => {
      const lag = lagFromMetrics(await metrics.text(), group, topic);
      const positions = await groupPositions(kafka, group, topic);
      const zero = lag.size === PARTITIONS && [...lag.values()].every((v) => v === 0) && [...positions.values()].every((p) => p.end > 0 && p.committed === p.end);
      return zero ? new Map([...positions].map(([p, { end }]) => [p, end])) : undefined;
    },
    // A bound, not a speed: on a loaded machine (two test runs and others' stacks) 15 s ran out twice.
    60_000,
  );
}

function expectKafkaToolLag(expected: string): void {
  expect(lagFromConsumerGroups(group, topic)).toEqual(new Map(Array.from({ length: PARTITIONS }, (_, p): [number, string] => [p, expected])));
}

beforeAll(async () => {
  await redis.connect();
  await producer.connect();
  await createTopicsAndWait(kafka, [topic, dlqTopicName(topic)].map((t) => ({ topic: t, numPartitions: PARTITIONS, replicationFactor: 1 })));
});

afterAll(async () => {
  await stop();
  await lagMonitor.stop();
  await producer.disconnect();
  await dropKeys(redis, `rm:{${keyspace}}:*`);
  await redis.quit();
});

describe('the lag of a projector on a topic written in transactions', () => {
  it('reads 0 once it has caught up, and again when idle after a restart', async () => {
    await inTransaction(added(1));
    await start();
    const checkpoints = await waitForApplied();
    const ends = await waitForZeroLag('while running');
    // The situation of the issue: the checkpoint (after the last record) is one short of the end, the commit marker.
    for (const [p, end] of ends) expect(checkpoints.get(p)).toBe(end - 1);
    expectKafkaToolLag('0');

    await stop();
    await start();
    // The restarted projector seeks to its checkpoint (committing that offset) and reads the marker alone.
    await waitFor('the restarted projector read past the markers', async () => ([...ends].every(([p, end]) => read.get(p) === end) ? true : undefined));
    await waitForZeroLag('idle after a restart');
    expectKafkaToolLag('0');
  });

  it('skips no record written after a marker, whether the projector runs or not', async () => {
    await inTransaction(repriced(2, 1100));
    await waitForApplied();
    await waitForZeroLag('after a second transaction');
    await stop();
    await inTransaction(repriced(3, 1200));
    await start();
    await waitForApplied();
    await waitForZeroLag('after a transaction written while stopped');
    await expectModelOfWrittenEvents();
  });

  it('passes an aborted transaction without applying it, and does not commit past an open one', async () => {
    await inTransaction(repriced(4, 9900), 'abort');
    const ends = await waitForZeroLag('after an aborted transaction');
    await expectModelOfWrittenEvents();

    // An open transaction: its records are in the log (Kafka's tool counts them up to the high watermark) but nobody may read them yet.
    const open = await producer.transaction();
    await produceEnvelopes(open, codec, { topic, schemaTopic: 'restaurant.menu.events', namespace: 'restaurant.menu', partitions: PARTITIONS }, repriced(4, 1300));
    const positions = await groupPositions(kafka, group, topic);
    for (const [p, end] of ends) expect(positions.get(p)).toEqual({ committed: end, end });
    // The metric counts up to the last stable offset, Kafka's tool up to the high watermark.
    expect(lagFromMetrics(await metrics.text(), group, topic)).toEqual(new Map([...ends.keys()].map((p) => [p, 0])));
    expectKafkaToolLag('1');

    await open.commit();
    written.push(...repriced(4, 1300));
    await waitForApplied();
    await waitForZeroLag('after the open transaction committed');
    await expectModelOfWrittenEvents();
    expectKafkaToolLag('0');
  });
});
