// Consumer lag three ways, for tests that a caught-up group reads 0: the
// `restaurant_consumer_lag_messages` series of a /metrics text, the group's
// committed offsets against the partitions' end offsets through the admin API,
// and Kafka's own kafka-consumer-groups --describe.
import type { Kafka } from 'kafkajs';
import { withAdmin } from './kafka';
import { kafkaConsumerGroups } from './operations';

/** `restaurant_consumer_lag_messages{group,topic,partition}` of a Prometheus exposition text, by partition. */
export function lagFromMetrics(text: string, group: string, topic: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of text.split('\n')) {
    const match = /^restaurant_consumer_lag_messages\{([^}]*)\} (\S+)$/.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries([...(match[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (labels.group === group && labels.topic === topic) out.set(Number(labels.partition), Number(match[2]));
  }
  return out;
}

export interface PartitionPosition {
  /** The group's committed offset (-1: none). */
  readonly committed: number;
  /** The partition's end offset as a read-committed client sees it (the last stable offset). */
  readonly end: number;
}

/** The group's committed offset and the end offset of every partition of `topic`. */
export async function groupPositions(kafka: Kafka, group: string, topic: string): Promise<Map<number, PartitionPosition>> {
  return withAdmin(kafka, async (admin) => {
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    const byPartition = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    return new Map(ends.map((e) => [e.partition, { committed: byPartition.get(e.partition) ?? -1, end: Number(e.high) }]));
  });
}

/** The LAG column of `kafka-consumer-groups --describe --group <group>` for `topic`, by partition ('-' when nothing is committed). */
export function lagFromConsumerGroups(group: string, topic: string): Map<number, string> {
  const { status, output } = kafkaConsumerGroups(['--describe', '--group', group]);
  if (status !== 0) throw new Error(`kafka-consumer-groups --describe failed (${status}):\n${output}`);
  const rows = output.split('\n').map((line) => line.trim().split(/\s+/));
  const header = rows.find((r) => r.includes('PARTITION') && r.includes('LAG'));
  if (header === undefined) throw new Error(`no header in kafka-consumer-groups output:\n${output}`);
  const [topicAt, partitionAt, lagAt] = ['TOPIC', 'PARTITION', 'LAG'].map((c) => header.indexOf(c)) as [number, number, number];
  const out = new Map<number, string>();
  for (const row of rows) if (row[topicAt] === topic && row[0] === group) out.set(Number(row[partitionAt]), row[lagAt] ?? '');
  return out;
}
