import { Kafka, logLevel, type Consumer, type LogEntry } from 'kafkajs';
import { config } from '../../infra/config';
import { fencedProducer, TRANSACTIONAL_RETRY } from '../../infra/kafka/transactions';
import { createTopicsAndWait, testKafka, unique, withAdmin } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';

const kafka = testKafka('transactions-test');

/** Reads the topic from the start until `done` says stop; returns the values seen, in order. */
async function readAll(k: Kafka, topic: string, readUncommitted: boolean, done: (values: string[]) => boolean): Promise<string[]> {
  const consumer: Consumer = k.consumer({ groupId: unique('it.txn-reader'), readUncommitted });
  const values: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value?.toString() ?? '') });
    await waitFor(`the ${readUncommitted ? 'read-uncommitted' : 'read-committed'} consumer to reach the end marker`, async () =>
      done(values) ? true : undefined,
    );
    return values;
  } finally {
    await consumer.disconnect();
  }
}

describe('Kafka transactions on the single-node broker', () => {
  const topic = unique('it.txn');
  const inputGroup = unique('it.txn-input-group');

  beforeAll(async () => {
    await createTopicsAndWait(kafka, [{ topic, numPartitions: 1 }]);
  });

  it('commits sends and consumed offsets together, and hides an aborted transaction from read-committed readers', async () => {
    const producer = kafka.producer({ transactionalId: unique('it.txn-producer'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      const committed = await producer.transaction();
      await committed.send({ topic, messages: [{ key: 'a', value: 'committed-1' }] });
      await committed.sendOffsets({ consumerGroupId: inputGroup, topics: [{ topic, partitions: [{ partition: 0, offset: '42' }] }] });
      await committed.commit();

      const aborted = await producer.transaction();
      await aborted.send({ topic, messages: [{ key: 'a', value: 'aborted-1' }] });
      await aborted.sendOffsets({ consumerGroupId: inputGroup, topics: [{ topic, partitions: [{ partition: 0, offset: '99' }] }] });
      await aborted.abort();

      const last = await producer.transaction();
      await last.send({ topic, messages: [{ key: 'end', value: 'end-marker' }] });
      await last.commit();
    } finally {
      await producer.disconnect();
    }

    const committedView = await readAll(kafka, topic, false, (v) => v.includes('end-marker'));
    expect(committedView).toEqual(['committed-1', 'end-marker']);

    // The aborted record is really in the log: a read-uncommitted reader sees it.
    const rawView = await readAll(kafka, topic, true, (v) => v.includes('end-marker'));
    expect(rawView).toEqual(['committed-1', 'aborted-1', 'end-marker']);

    // Only the committed transaction's offsets reached the group.
    const offsets = await withAdmin(kafka, (admin) => admin.fetchOffsets({ groupId: inputGroup, topics: [topic] }));
    expect(offsets[0]?.partitions[0]?.offset).toBe('42');
  });
});

describe("the project's transactional producers (fencedProducer)", () => {
  const topic = unique('it.txn-fenced');
  const inputGroup = unique('it.txn-fenced-input');

  beforeAll(async () => {
    await createTopicsAndWait(kafka, [{ topic, numPartitions: 1 }]);
  });

  it('give kafkajs no reason to warn about exactly-once, and a fenced zombie still commits nothing', async () => {
    const logged: LogEntry[] = [];
    const watched = new Kafka({ clientId: 'transactions-test.watched', brokers: [...config().kafka.brokers], logLevel: logLevel.WARN, logCreator: () => (entry) => void logged.push(entry) });
    expect(TRANSACTIONAL_RETRY.retries).toBe(Number.MAX_SAFE_INTEGER);

    const transactionalId = unique('it.txn-fenced-id');
    const zombie = await fencedProducer(watched, transactionalId);
    let successor: Awaited<ReturnType<typeof fencedProducer>> | undefined;
    try {
      const open = await zombie.transaction();
      await open.send({ topic, messages: [{ key: 'a', value: 'from-the-zombie' }] });
      await open.sendOffsets({ consumerGroupId: inputGroup, topics: [{ topic, partitions: [{ partition: 0, offset: '7' }] }] });

      // A new owner of the same transactional id fences the zombie and aborts what it left open.
      successor = await fencedProducer(watched, transactionalId);
      await expect(open.commit()).rejects.toThrow();

      const next = await successor.transaction();
      await next.send({ topic, messages: [{ key: 'a', value: 'from-the-successor' }] });
      await next.sendOffsets({ consumerGroupId: inputGroup, topics: [{ topic, partitions: [{ partition: 0, offset: '8' }] }] });
      await next.commit();
    } finally {
      await zombie.disconnect().catch(() => undefined);
      await successor?.disconnect();
    }

    const committedView = await readAll(kafka, topic, false, (v) => v.includes('from-the-successor'));
    expect(committedView).toEqual(['from-the-successor']);
    const offsets = await withAdmin(kafka, (admin) => admin.fetchOffsets({ groupId: inputGroup, topics: [topic] }));
    expect(offsets[0]?.partitions[0]?.offset).toBe('8');

    const warnings = logged.filter((e) => e.level <= logLevel.WARN).map((e) => e.log.message);
    expect(warnings.filter((m) => /EoS|idempotent/i.test(m))).toEqual([]);
  });
});
