import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import Redis from 'ioredis';
import { config } from '../../infra/config';
import { kafkaSecurity } from '../../infra/kafka/client';
import { waitFor } from '../../infra/wait-for';

// Tests name their partitioning where it matters; the v2 default-partitioner notice is noise here.
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

/** Clients for the real local stack, quiet unless something is wrong. */
export function testKafka(clientId = 'test', level: logLevel = logLevel.WARN): Kafka {
  return new Kafka({ clientId, brokers: [...config().kafka.brokers], ...kafkaSecurity(), logLevel: level });
}

export function testRegistry(): SchemaRegistry {
  return new SchemaRegistry({ host: config().registry.url });
}

export function testRedis(): Redis {
  return new Redis(config().redis.url, { lazyConnect: true, maxRetriesPerRequest: 2 });
}

/** A name no other test run has used: tests never share topics, groups or subjects. */
export function unique(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Creates topics and waits until every partition has a leader in the
 * metadata. kafkajs's own `waitForLeaders` gives up when a busy broker still
 * answers "does not host this topic-partition" for a topic it just created;
 * this waits that out too.
 */
export async function createTopicsAndWait(kafka: Kafka, topics: readonly { readonly topic: string; readonly numPartitions: number }[], timeoutMs = 60_000): Promise<void> {
  await withAdmin(kafka, async (admin) => {
    await admin.createTopics({ waitForLeaders: false, topics: topics.map((t) => ({ ...t, replicationFactor: 1 })) });
    await waitFor(
      `leaders for ${topics.map((t) => t.topic).join(', ')}`,
      async () => {
        const { topics: found } = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) });
        const ready = topics.every((t) => {
          const meta = found.find((f) => f.name === t.topic);
          return meta !== undefined && meta.partitions.length === t.numPartitions && meta.partitions.every((p) => p.leader >= 0);
        });
        return ready ? true : undefined;
      },
      timeoutMs,
    );
  });
}
