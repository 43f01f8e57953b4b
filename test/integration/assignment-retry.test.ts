/**
 * A projector whose assignment cannot be taken on at first (reading where its
 * partitions stand fails, as it does for a few seconds when the broker leading
 * them, or the group coordinator, is lost: docs/cluster.md) takes it on once
 * it can, and processes every event. kafkajs does not join the group again
 * when eachBatch fails, so a consumer that left this to kafkajs kept fetching
 * forever without processing anything.
 */
import { logLevel } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { rootLogger } from '../../infra/logging';
import { Projector } from '../../consumers/projections/runtime/projector';
import { ordersKeys } from '../../consumers/projections/orders/orders.keys';
import { dlqTopicName } from '../../schemas/topics';
import { createTopicsAndWait, testKafka, testRedis, testRegistry, unique } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { HOUR, T0 } from '../support/projection-spec';
import { line, money, orderHistory } from '../support/order-histories';
import { dropKeys, produceEnvelopes } from '../support/read-side';

jest.setTimeout(120_000);

const kafka = testKafka('it-assignment-retry', logLevel.NOTHING);
const redis = testRedis();
const codec = new AvroCodec(testRegistry());
const logger = rootLogger.child({ test: 'assignment-retry' });
logger.level = 'silent';
const PARTITIONS = 3;
const keyspace = unique('it').toLowerCase();
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
let projector: Projector | undefined;

beforeAll(async () => {
  await redis.connect();
  await producer.connect();
});

afterAll(async () => {
  await projector?.stop();
  await producer.disconnect();
  await dropKeys(redis, `rm:{${keyspace}}:*`);
  await redis.quit();
});

it('takes on an assignment whose first attempts fail, and then processes every event', async () => {
  const topic = unique('it-assignment-retry');
  await createTopicsAndWait(kafka, [topic, dlqTopicName(topic)].map((t) => ({ topic: t, numPartitions: PARTITIONS, replicationFactor: 1 })));
  const orderIds = Array.from({ length: 6 }, (_, i) => `order-${i}`);
  const events = orderIds.flatMap((orderId, i) =>
    orderHistory({ orderId, customerId: `customer-${i}`, lines: [line('soup', 'Soup', 1, money(650))], openedAt: T0 + i * HOUR, at: { placed: T0 + i * HOUR + 60_000 } }),
  );
  await produceEnvelopes(producer, codec, { topic, schemaTopic: 'restaurant.order.events', namespace: 'restaurant.order', partitions: PARTITIONS }, events);

  projector = new Projector({ kafka, codec, redis, logger, model: 'orders', keyspace, topics: [topic] });
  // The first two readings of the stored checkpoints fail, as the broker's answers do right after it lost a node.
  const sink = projector.sink;
  const read = sink.checkpoints.bind(sink);
  let calls = 0;
  sink.checkpoints = async (t: string) => {
    calls += 1;
    if (calls <= 2) throw new Error('Connection error: connect ECONNREFUSED (the partition leader is gone)');
    return read(t);
  };
  await projector.start();

  const keys = ordersKeys(keyspace);
  const placed = await waitFor(
    'every order placed in the read model',
    async () => {
      const docs = await redis.mget(...orderIds.map((id) => keys.order(id)));
      const statuses = docs.map((d) => (d === null ? undefined : (JSON.parse(d) as { status?: string }).status));
      return statuses.every((s) => s === 'PLACED') ? statuses.length : undefined;
    },
    60_000,
    200,
  );
  expect(placed).toBe(orderIds.length);
  expect(calls).toBeGreaterThan(2);
  expect(projector.consumer.notReady()).toBeUndefined();
});
