import { createTopicsAndWait, testKafka, unique, withAdmin } from '../support/kafka';
import { ConfigResourceTypes, logLevel } from 'kafkajs';

const kafka = testKafka('topics-test');

describe('the local broker', () => {
  it('creates a compacted topic with explicit configs and reports them back', async () => {
    const topic = unique('it.compact-configs');
    const configs = await withAdmin(kafka, async (admin) => {
      const created = await createTopicsAndWait(admin, [
        {
          topic,
          numPartitions: 3,
          configEntries: [
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'min.cleanable.dirty.ratio', value: '0.1' },
            { name: 'segment.ms', value: '600000' },
          ],
        },
      ]);
      expect(created).toBe(true);
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(metadata.topics[0]?.partitions).toHaveLength(3);
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
      });
      return Object.fromEntries(
        (described.resources[0]?.configEntries ?? []).map((entry) => [entry.configName, entry.configValue]),
      );
    });
    expect(configs).toMatchObject({
      'cleanup.policy': 'compact',
      'min.cleanable.dirty.ratio': '0.1',
      'segment.ms': '600000',
    });
  });

  it('does not create topics on the fly: producing to an unknown topic fails', async () => {
    // The broker's refusal is the expected outcome here, so the client's error log stays quiet.
    const producer = testKafka('topics-test', logLevel.NOTHING).producer({ allowAutoTopicCreation: true, retry: { retries: 1 } });
    await producer.connect();
    try {
      await expect(
        producer.send({ topic: unique('it.never-declared'), messages: [{ value: 'x' }] }),
      ).rejects.toThrow(/does not host this topic-partition|UNKNOWN_TOPIC_OR_PARTITION|not exist/i);
    } finally {
      await producer.disconnect();
    }
  });
});
