import { ConfigResourceTypes } from 'kafkajs';
import { applyTopics } from '../../infra/kafka/topics';
import type { TopicSpec } from '../../schemas/topics';
import { createTopicsAndWait, testKafka, unique, withAdmin } from '../support/kafka';

const kafka = testKafka('topics-apply-test');

function spec(name: string, partitions: number): TopicSpec {
  return {
    name,
    role: 'events',
    aggregate: 'order',
    partitions,
    replicationFactor: 1,
    key: 'aggregateId/version',
    configs: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '86400000' },
    subjects: [],
  };
}

describe('topics:apply against the broker', () => {
  it('creates what is missing, then verifies it without changes', async () => {
    const name = unique('it.apply');
    const first = await withAdmin(kafka, (admin) => applyTopics(admin, [spec(name, 3)]));
    expect(first).toEqual({ created: [name], verified: [], drift: [] });
    const second = await withAdmin(kafka, (admin) => applyTopics(admin, [spec(name, 3)]));
    expect(second).toEqual({ created: [], verified: [name], drift: [] });
  });

  it('reports a drifted cleanup policy and partition count, and changes nothing', async () => {
    const name = unique('it.drift');
    await createTopicsAndWait(kafka, [{ topic: name, numPartitions: 2, configEntries: [{ name: 'cleanup.policy', value: 'delete' }] }]);
    const result = await withAdmin(kafka, (admin) => applyTopics(admin, [spec(name, 3)]));
    expect(result.created).toEqual([]);
    expect(result.drift).toEqual([
      {
        topic: name,
        differences: [
          'partitions: declared 3, broker has 2',
          'cleanup.policy: declared compact, broker has delete',
          'min.compaction.lag.ms: declared 86400000, broker has 0',
        ],
      },
    ]);
    const after = await withAdmin(kafka, (admin) =>
      admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name }] }),
    );
    expect(after.resources[0]?.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue).toBe('delete');
  });
});
