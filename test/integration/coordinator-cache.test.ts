import { Kafka, logLevel } from 'kafkajs';
import { config } from '../../infra/config';
import { kafkaSecurity } from '../../infra/kafka/client';
import { cacheCoordinators, canCacheCoordinators } from '../../infra/kafka/coordinator-cache';
import { createTopicsAndWait, unique, withAdmin } from '../support/kafka';

/** Runs `transactions` transactions of a send plus sendOffsets and returns how many FindCoordinator requests the producer made. */
async function findCoordinatorRequests(kafka: Kafka, topic: string, transactions: number): Promise<number> {
  const producer = kafka.producer({ transactionalId: unique('it.cache-producer'), idempotent: true, maxInFlightRequests: 1 });
  const group = unique('it.cache-group');
  let lookups = 0;
  producer.on(producer.events.REQUEST, ({ payload }) => {
    if (payload.apiName === 'GroupCoordinator' || payload.apiName === 'FindCoordinator') lookups += 1;
  });
  await producer.connect();
  try {
    for (let i = 0; i < transactions; i += 1) {
      const transaction = await producer.transaction();
      await transaction.send({ topic, messages: [{ key: 'k', value: String(i) }] });
      await transaction.sendOffsets({ consumerGroupId: group, topics: [{ topic, partitions: [{ partition: 0, offset: String(i + 1) }] }] });
      await transaction.commit();
    }
  } finally {
    await producer.disconnect();
  }
  return lookups;
}

describe('remembering coordinators (kafkajs asks for one before every transactional call)', () => {
  const topic = unique('it.coordinator-cache');
  const client = (id: string): Kafka => new Kafka({ clientId: id, brokers: [...config().kafka.brokers], ...kafkaSecurity(), logLevel: logLevel.WARN });

  beforeAll(async () => {
    await createTopicsAndWait(client('it.cache-admin'), [{ topic, numPartitions: 1 }]);
  });

  it("finds the kafkajs internal factory it wraps", () => {
    expect(canCacheCoordinators(client('it.cache-probe'))).toBe(true);
  });

  it('looks each coordinator up once instead of several times per transaction, and the transactions still commit', async () => {
    const plain = await findCoordinatorRequests(client('it.cache-plain'), topic, 5);
    const cached = await findCoordinatorRequests(cacheCoordinators(client('it.cache-cached')), topic, 5);
    // Uncached: the transaction coordinator for add-partitions, sendOffsets and commit, plus the group's, every time.
    expect(plain).toBeGreaterThanOrEqual(5 * 4);
    // Cached: the transaction coordinator once (at init) and the group's once.
    expect(cached).toBe(2);
    const ends = await withAdmin(client('it.cache-admin'), (admin) => admin.fetchTopicOffsets(topic));
    // 10 records + 10 commit markers.
    expect(Number(ends[0]?.high)).toBe(20);
  });
});
