// Reads an aggregate's event topic back from the broker and decodes every event:
// the independent view that e2e tests check the command side against.
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Kafka } from 'kafkajs';
import { config } from '../../infra/config';
import { AvroCodec } from '../../infra/kafka/codec';
import { readToEnd } from '../../infra/kafka/read-to-end';
import type { EventMetadata } from '../../schemas/generated/types';
import { parseEventKey } from '../../schemas/partitioning';

export interface StoredEvent {
  readonly type: string;
  readonly key: string;
  readonly partition: number;
  readonly offset: number;
  readonly metadata: EventMetadata;
  readonly data: Record<string, unknown>;
}

export async function readEvents(kafka: Kafka, topic: string): Promise<StoredEvent[]> {
  const codec = new AvroCodec(new SchemaRegistry({ host: config().registry.url }));
  const events: StoredEvent[] = [];
  await readToEnd(kafka, [{ topic }], async ({ partition, message }) => {
    if (message.value === null) return;
    const decoded = await codec.decode(message.value);
    const { metadata, ...data } = decoded.value as { metadata: EventMetadata } & Record<string, unknown>;
    const key = message.key?.toString() ?? '';
    const parsed = parseEventKey(key);
    if (parsed.aggregateId !== metadata.aggregateId || parsed.version !== metadata.version) {
      throw new Error(`event key ${key} does not match its metadata ${metadata.aggregateId}/${metadata.version}`);
    }
    events.push({ type: decoded.fullName.split('.').pop() ?? '', key, partition, offset: Number(message.offset), metadata, data });
  });
  return events;
}

/**
 * Groups by aggregate, each list in version order. An exact re-write of an event
 * (same key, same eventId: what a retried producer could leave, and what
 * compaction collapses) counts once; two different events claiming one version
 * both stay, so versionProblems reports them.
 */
export function byAggregate(events: readonly StoredEvent[]): Map<string, StoredEvent[]> {
  const map = new Map<string, StoredEvent[]>();
  const seen = new Set<string>();
  for (const e of events) {
    const identity = `${e.key}|${e.metadata.eventId}`;
    if (seen.has(identity)) continue;
    seen.add(identity);
    map.set(e.metadata.aggregateId, [...(map.get(e.metadata.aggregateId) ?? []), e]);
  }
  for (const list of map.values()) list.sort((a, b) => a.metadata.version - b.metadata.version);
  return map;
}

/** Every aggregate's versions run 1..N: no gap, no duplicate. Returns the offenders. */
export function versionProblems(events: readonly StoredEvent[]): string[] {
  const problems: string[] = [];
  for (const [id, list] of byAggregate(events)) {
    list.forEach((e, i) => {
      if (e.metadata.version !== i + 1) problems.push(`${id}: position ${i + 1} holds version ${e.metadata.version}`);
    });
  }
  return problems;
}
