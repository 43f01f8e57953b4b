import type { Consumer, Kafka } from 'kafkajs';
import { testKafka, unique, waitFor, withAdmin } from '../support/kafka';

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
    await withAdmin(kafka, (admin) => admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] }));
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
