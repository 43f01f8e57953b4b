import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import Redis from 'ioredis';
import { config } from '../../infra/config';
import { kafkaSecurity } from '../../infra/kafka/client';
import { createTopicsLed, type NewTopic } from '../../infra/kafka/create-topics';

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
 * metadata (infra/kafka/create-topics.ts). Never kafkajs's `waitForLeaders:
 * true`: it gives up when a busy broker still answers "does not host this
 * topic-partition" for a topic it just created. Takes the Kafka (opens its own
 * admin) or an admin already connected. Returns false when every topic existed.
 */
export async function createTopicsAndWait(kafkaOrAdmin: Kafka | Admin, topics: readonly NewTopic[], timeoutMs = 60_000): Promise<boolean> {
  if (kafkaOrAdmin instanceof Kafka) return withAdmin(kafkaOrAdmin, (admin) => createTopicsLed(admin, topics, timeoutMs));
  return createTopicsLed(kafkaOrAdmin, topics, timeoutMs);
}
