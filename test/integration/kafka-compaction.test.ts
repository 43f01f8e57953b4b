import { createTopicsAndWait, testKafka, unique, withAdmin } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';

const kafka = testKafka('compaction-test');

/** Every (key, value) in the topic, read from the beginning up to the current end. */
async function snapshot(topic: string): Promise<Array<[string, string, number]>> {
  const end = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
  const high = Number(end[0]?.high ?? 0);
  const consumer = kafka.consumer({ groupId: unique('it.compaction-reader') });
  const seen: Array<[string, string, number]> = [];
  let lastOffset = -1;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push([message.key?.toString() ?? '', message.value?.toString() ?? '', Number(message.offset)]);
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
    await createTopicsAndWait(kafka, [
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
    ]);
    const producer = kafka.producer();
    await producer.connect();
    const offsetOf = async (key: string, value: string): Promise<number> => {
      // One send per record: separate batches, separate segments.
      const [written] = await producer.send({ topic, messages: [{ key, value }] });
      return Number(written?.baseOffset);
    };
    let offsets: number[];
    try {
      offsets = [
        await offsetOf('dish', 'price-1000'),
        await offsetOf('other', 'kept'),
        await offsetOf('dish', 'price-1200'),
        await offsetOf('filler', 'active-segment'),
      ];
    } finally {
      await producer.disconnect();
    }
    // The broker took both values of 'dish' (the cleaner may already be at work, so
    // the proof is the offsets it reported, not a read that could race it).
    expect(offsets).toEqual([0, 1, 2, 3]);

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
      ['other', 'kept', 1],
      ['dish', 'price-1200', 2],
      ['filler', 'active-segment', 3],
    ]);
  }, 120_000);
});
