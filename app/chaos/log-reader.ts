// The verifier's own view of the log: every record of the events topics, read
// committed from the first offset to the end, decoded with the registry's
// client and avsc (not the roles' codec). Dead-letter topics are only counted.
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Kafka } from 'kafkajs';
import { readToEnd } from '../../infra/kafka/read-to-end';
import { allTopicSpecs } from '../../infra/kafka/topics';
import { dlqTopicName } from '../../schemas/topics';
import type { EventMetadata } from '../../schemas/generated/types';

export interface LoggedEvent {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  /** The record's name, e.g. OrderPlaced. */
  readonly type: string;
  readonly metadata: EventMetadata;
  readonly data: Record<string, unknown>;
}

/** Every events topic: the aggregates' and the payment provider's two (requests, results). */
export const eventsTopics = (): string[] => allTopicSpecs().filter((t) => t.role === 'events').map((t) => t.name);

/** Every topic a role dead-letters to: one per consumed topic (commands, events). */
export const deadLetterTopics = (): string[] =>
  allTopicSpecs()
    .filter((t) => t.role === 'events' || t.role === 'commands')
    .map((t) => dlqTopicName(t.name));

export async function readEventLog(kafka: Kafka, registryUrl: string): Promise<LoggedEvent[]> {
  const registry = new SchemaRegistry({ host: registryUrl });
  const names = new Map<number, string>();
  const events: LoggedEvent[] = [];
  await readToEnd(
    kafka,
    eventsTopics().map((topic) => ({ topic })),
    async ({ topic, partition, message }) => {
      if (message.value === null) return;
      const id = message.value.readInt32BE(1);
      if (!names.has(id)) {
        const schema = (await registry.getSchema(id)) as { name?: string };
        names.set(id, (schema.name ?? '').split('.').pop() ?? '');
      }
      const { metadata, ...data } = (await registry.decode(message.value)) as { metadata: EventMetadata } & Record<string, unknown>;
      events.push({ topic, partition, offset: Number(message.offset), key: message.key?.toString() ?? '', type: names.get(id) ?? '', metadata, data });
    },
    { timeoutMs: 300_000 },
  );
  return events;
}

/** Records in each dead-letter topic that has any. */
export async function deadLetters(kafka: Kafka): Promise<Record<string, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const out: Record<string, number> = {};
    for (const topic of deadLetterTopics().filter((t) => existing.has(t))) {
      const offsets = await admin.fetchTopicOffsets(topic);
      const count = offsets.reduce((sum, o) => sum + Number(o.high) - Number(o.low), 0);
      if (count > 0) out[topic] = count;
    }
    return out;
  } finally {
    await admin.disconnect();
  }
}
