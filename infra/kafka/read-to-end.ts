// Reads chosen partitions of a topic from their beginning up to the end they
// have now, with read-committed isolation, then stops. Used to restore state
// from compacted topics (snapshots, changelogs) and by tests and verifiers that
// read a topic back.
//
// kafkajs has no manual partition assignment, so a throwaway consumer group
// with a one-member assigner takes exactly the requested partitions. "The end"
// is the end offset fetched first; a transaction's commit marker can be the last
// offset, which no consumer ever receives as a message, so progress is taken
// from kafkajs's batch instrumentation (it reports control-record-only batches).
import { randomUUID } from 'node:crypto';
import { AssignerProtocol, type Kafka, type KafkaMessage, type PartitionAssigner } from 'kafkajs';

export interface TopicPartitions {
  readonly topic: string;
  /** Partitions to read; all of the topic's when omitted. */
  readonly partitions?: readonly number[];
}

export type RecordHandler = (record: { readonly topic: string; readonly partition: number; readonly message: KafkaMessage }) => void | Promise<void>;

function fixedAssigner(assignment: Record<string, number[]>): PartitionAssigner {
  return () => ({
    name: 'FixedAssigner',
    version: 1,
    async assign({ members }) {
      const [first] = members;
      if (!first) return [];
      return [
        {
          memberId: first.memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment, userData: Buffer.alloc(0) }),
        },
      ];
    },
    protocol({ topics }) {
      return { name: 'FixedAssigner', metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
    },
  });
}

export async function readToEnd(
  kafka: Kafka,
  sources: readonly TopicPartitions[],
  onRecord: RecordHandler,
  options: {
    readonly timeoutMs?: number;
    /** Where to start per partition ("topic:partition" -> offset) instead of the beginning. */
    readonly from?: ReadonlyMap<string, number>;
  } = {},
): Promise<{ readonly records: number }> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<string, number>(); // "topic:partition" -> end offset (exclusive)
  const assignment: Record<string, number[]> = {};
  try {
    for (const source of sources) {
      const offsets = await admin.fetchTopicOffsets(source.topic);
      const wanted = new Set(source.partitions ?? offsets.map((o) => o.partition));
      for (const o of offsets) {
        if (!wanted.has(o.partition)) continue;
        if (Number(o.high) > Math.max(Number(o.low), options.from?.get(`${source.topic}:${o.partition}`) ?? 0)) ends.set(`${source.topic}:${o.partition}`, Number(o.high));
        (assignment[source.topic] ??= []).push(o.partition);
      }
    }
  } finally {
    await admin.disconnect();
  }
  if (ends.size === 0) return { records: 0 };

  const groupId = `restaurant.read-to-end.${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, partitionAssigners: [fixedAssigner(assignment)], maxWaitTimeInMs: 100 });
  const remaining = new Set(ends.keys());
  let records = 0;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const progress = (topic: string, partition: number, lastOffset: string): void => {
    const key = `${topic}:${partition}`;
    const end = ends.get(key);
    if (end !== undefined && Number(lastOffset) >= end - 1) remaining.delete(key);
    if (remaining.size === 0) finish();
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => progress(payload.topic, payload.partition, payload.lastOffset));
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: Object.keys(assignment), fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const end = ends.get(`${batch.topic}:${batch.partition}`) ?? 0;
        const start = options.from?.get(`${batch.topic}:${batch.partition}`) ?? 0;
        for (const message of batch.messages) {
          if (Number(message.offset) >= end) break; // written after we started: not ours to read
          if (Number(message.offset) < start) continue;
          await onRecord({ topic: batch.topic, partition: batch.partition, message });
          records += 1;
        }
      },
    });
    for (const [key, offset] of options.from ?? []) {
      const at = key.lastIndexOf(':');
      const [topic, partition] = [key.slice(0, at), Number(key.slice(at + 1))];
      if (assignment[topic]?.includes(partition) === true && ends.has(key)) consumer.seek({ topic, partition, offset: String(offset) });
    }
    const timeoutMs = options.timeoutMs ?? 120_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`reading ${[...remaining].join(', ')} to the end took longer than ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([finished, timedOut]);
    } finally {
      clearTimeout(timer);
    }
    return { records };
  } finally {
    await consumer.disconnect();
    const cleanup = kafka.admin();
    await cleanup.connect();
    await cleanup.deleteGroups([groupId]).catch(() => undefined);
    await cleanup.disconnect();
  }
}
