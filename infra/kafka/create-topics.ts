// Creating topics so that the first write finds a leader. kafkajs's own
// `createTopics({ waitForLeaders: true })` retries only LEADER_NOT_AVAILABLE and
// gives up when a busy broker (or a cluster's follower) still answers
// UNKNOWN_TOPIC_OR_PARTITION ("does not host this topic-partition") for a topic
// it has just created. These create without kafkajs's wait and then poll the
// metadata until every partition has a leader, asking again through that error,
// and until every leader answers for its partitions' offsets.
import type { Admin } from 'kafkajs';
import { waitFor } from '../wait-for';

/** A topic to create: what `admin.createTopics` takes, minus the leader wait. */
export interface NewTopic {
  readonly topic: string;
  readonly numPartitions: number;
  /** Omitted: the broker's default.replication.factor. */
  readonly replicationFactor?: number;
  readonly configEntries?: readonly { readonly name: string; readonly value: string }[];
}

export const LEADERS_TIMEOUT_MS = 60_000;

/** Waits until each topic has its partitions in the metadata, every one with a leader that answers for it. */
export async function untilLed(admin: Admin, topics: readonly Pick<NewTopic, 'topic' | 'numPartitions'>[], timeoutMs = LEADERS_TIMEOUT_MS): Promise<void> {
  await waitFor(
    `a leader for every partition of ${topics.map((t) => t.topic).join(', ')}`,
    async () => {
      // Throws while a broker does not host a partition yet: waitFor asks again.
      const { topics: found } = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) });
      const led = topics.every((t) => {
        const meta = found.find((f) => f.name === t.topic);
        return meta !== undefined && meta.partitions.length === t.numPartitions && meta.partitions.every((p) => p.leader >= 0);
      });
      if (!led) return undefined;
      // The metadata can name a leader a moment before that broker serves the partition (it answers
      // NOT_LEADER_OR_FOLLOWER meanwhile): asking every leader for its offsets shows each one does.
      for (const t of topics) await admin.fetchTopicOffsets(t.topic);
      return true;
    },
    timeoutMs,
  );
}

/**
 * Creates the topics and waits until every partition has a leader. Returns what
 * `admin.createTopics` does: false when every topic already existed.
 */
export async function createTopicsLed(admin: Admin, topics: readonly NewTopic[], timeoutMs = LEADERS_TIMEOUT_MS): Promise<boolean> {
  const created = await admin.createTopics({
    waitForLeaders: false,
    topics: topics.map((t) => ({
      topic: t.topic,
      numPartitions: t.numPartitions,
      ...(t.replicationFactor === undefined ? {} : { replicationFactor: t.replicationFactor }),
      ...(t.configEntries === undefined ? {} : { configEntries: t.configEntries.map((e) => ({ ...e })) }),
    })),
  });
  await untilLed(admin, topics, timeoutMs);
  return created;
}
