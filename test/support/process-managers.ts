// Process-manager test support: read any topic back decoded (commands,
// events, changelogs alike), the latest record per key, and the offsets a
// consumer group has committed.
import type { IHeaders, Kafka } from 'kafkajs';
import type { AvroCodec } from '../../infra/kafka/codec';
import { readToEnd } from '../../infra/kafka/read-to-end';
import { withAdmin } from './kafka';

export interface StoredRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  /** Short record name (`ConfirmOrder`); empty for a tombstone or raw bytes. */
  readonly type: string;
  readonly value: Record<string, unknown> | null;
  readonly headers: Readonly<Record<string, string>>;
  /** The broker's timestamp (the producer's clock). */
  readonly timestamp: number;
}

const text = (headers: IHeaders | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, (Array.isArray(v) ? v[0] : v)?.toString() ?? '']));

/** Every committed record of a topic, decoded when `codec` is given (else raw: DLQs). */
export async function readRecords(kafka: Kafka, topic: string, codec?: AvroCodec): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  await readToEnd(kafka, [{ topic }], async ({ partition, message }) => {
    const decoded = message.value !== null && codec !== undefined ? await codec.decode(message.value) : undefined;
    out.push({
      topic,
      partition,
      offset: Number(message.offset),
      key: message.key?.toString() ?? '',
      type: decoded === undefined ? '' : decoded.fullName.slice(decoded.fullName.lastIndexOf('.') + 1),
      value: decoded === undefined ? null : (decoded.value as Record<string, unknown>),
      headers: text(message.headers),
      timestamp: Number(message.timestamp),
    });
  });
  return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

/** The latest record per key (what compaction keeps), in offset order per partition. */
export function latestByKey(records: readonly StoredRecord[]): Map<string, StoredRecord> {
  const latest = new Map<string, StoredRecord>();
  for (const r of records) latest.set(r.key, r);
  return latest;
}

/** topic -> partition -> end offset (the next offset to be written). */
export async function endOffsets(kafka: Kafka, topics: readonly string[]): Promise<Map<string, Map<number, number>>> {
  return withAdmin(kafka, async (admin) => {
    const ends = new Map<string, Map<number, number>>();
    for (const topic of topics) ends.set(topic, new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)])));
    return ends;
  });
}

/** True when the group has committed every partition of `topics` up to `ends` (empty partitions count as done). */
export async function committedUpTo(kafka: Kafka, groupId: string, ends: ReadonlyMap<string, ReadonlyMap<number, number>>): Promise<boolean> {
  const committed = await withAdmin(kafka, (admin) => admin.fetchOffsets({ groupId, topics: [...ends.keys()] }));
  return [...ends].every(([topic, parts]) =>
    [...parts].every(([partition, end]) => {
      const offset = Number(committed.find((t) => t.topic === topic)?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
      return end === 0 || offset >= end;
    }),
  );
}

/** Counts records per key of `field` (e.g. how often each commandId was written). */
export function countBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(keyOf(item), (counts.get(keyOf(item)) ?? 0) + 1);
  return counts;
}
