import { testKafka, unique, waitFor, withAdmin } from '../support/kafka';

const kafka = testKafka('compaction-test');

/** Every (key, value) in the topic, read from the beginning up to the current end. */
async function snapshot(topic: string): Promise<Array<[string, string]>> {
  const end = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
  const high = Number(end[0]?.high ?? 0);
  const consumer = kafka.consumer({ groupId: unique('it.compaction-reader') });
  const seen: Array<[string, string]> = [];
  let lastOffset = -1;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push([message.key?.toString() ?? '', message.value?.toString() ?? '']);
        lastOffset = Number(message.offset);
      },
    });
    await waitFor('the reader to reach the end of the topic', async () => (lastOffset >= high - 1 ? true : undefined));
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

describe('log compaction on the local broker', () => {
  it('removes the older value of an overwritten key once the cleaner has run', async () => {
    const topic = unique('it.compaction');
    await withAdmin(kafka, (admin) =>
      admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic,
            numPartitions: 1,
            configEntries: [
              { name: 'cleanup.policy', value: 'compact' },
              // Tiny segments: every batch rolls a new one, so old values leave the active segment at once.
              { name: 'segment.bytes', value: '100' },
              { name: 'min.cleanable.dirty.ratio', value: '0.01' },
              { name: 'min.compaction.lag.ms', value: '0' },
              { name: 'delete.retention.ms', value: '0' },
            ],
          },
        ],
      }),
    );
    const producer = kafka.producer();
    await producer.connect();
    try {
      // One send per record: separate batches, separate segments.
      await producer.send({ topic, messages: [{ key: 'dish', value: 'price-1000' }] });
      await producer.send({ topic, messages: [{ key: 'other', value: 'kept' }] });
      await producer.send({ topic, messages: [{ key: 'dish', value: 'price-1200' }] });
      await producer.send({ topic, messages: [{ key: 'filler', value: 'active-segment' }] });
    } finally {
      await producer.disconnect();
    }
    expect((await snapshot(topic)).filter(([k]) => k === 'dish')).toHaveLength(2);

    const compacted = await waitFor(
      'the log cleaner to compact the topic',
      async () => {
        const records = await snapshot(topic);
        return records.filter(([k]) => k === 'dish').length === 1 ? records : undefined;
      },
      90_000,
      1000,
    );
    expect(compacted).toEqual([
      ['other', 'kept'],
      ['dish', 'price-1200'],
      ['filler', 'active-segment'],
    ]);
  }, 120_000);
});
