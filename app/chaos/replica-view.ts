// Which partitions a killed node leaves without a leader: the replicas each
// partition had in sync when the node was killed, and which partitions had no
// leader while it was down (docs/chaos.md "Issue #16's findings"). Read from
// the cluster's own metadata, not from the roles.
import type { Kafka } from 'kafkajs';

export interface PartitionReplicas {
  readonly topic: string;
  readonly partition: number;
  /** The leader's node id; -1 when the partition has none (offline). */
  readonly leader: number;
  readonly isr: readonly number[];
}

export interface ReplicaFigures {
  /** Partitions of every topic (internal ones too: group and transaction coordinators live there). */
  readonly partitions: number;
  /** At the kill: partitions the node led. */
  readonly ledByNode: number;
  /** At the kill: partitions with fewer in-sync replicas than min.insync.replicas. */
  readonly underMinIsr: number;
  /** At the kill: partitions left with fewer in-sync replicas than min.insync.replicas without the node (their writes are refused until a replica catches up). */
  readonly underMinIsrWithoutNode: number;
  /** At the kill: partitions the node led with no other replica in sync (they have no leader until it returns). */
  readonly ledWithoutOtherInSync: readonly string[];
  /** Just before the node started again: partitions with no leader, or still led by the dead node; undefined when the cluster did not answer. */
  readonly leaderlessWhileDown?: readonly string[];
}

const name = (p: PartitionReplicas): string => `${p.topic}-${p.partition}`;

/** The figures for a kill of `node`, from the metadata just before the kill and just before its restart. */
export function replicaFigures(node: number, atKill: readonly PartitionReplicas[], whileDown: readonly PartitionReplicas[] | undefined, minInSync: number): ReplicaFigures {
  const led = atKill.filter((p) => p.leader === node);
  return {
    partitions: atKill.length,
    ledByNode: led.length,
    underMinIsr: atKill.filter((p) => p.isr.length < minInSync).length,
    underMinIsrWithoutNode: atKill.filter((p) => p.isr.filter((replica) => replica !== node).length < minInSync).length,
    ledWithoutOtherInSync: led.filter((p) => p.isr.every((replica) => replica === node)).map(name),
    ...(whileDown === undefined ? {} : { leaderlessWhileDown: whileDown.filter((p) => p.leader === -1 || p.leader === node).map(name) }),
  };
}

/** Every partition's leader and in-sync replicas; undefined when the cluster does not answer (the figures are then missing, not wrong). */
export async function readReplicas(kafka: Kafka): Promise<PartitionReplicas[] | undefined> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const topics = await admin.listTopics();
    const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
    return metadata.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionId, leader: p.leader, isr: [...p.isr] })));
  } catch {
    return undefined;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
