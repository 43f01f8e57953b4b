// A partition assigner that keeps partition number p of every subscribed topic
// on the same member (what Kafka Streams calls co-partitioning). The command
// processor relies on it: all of an index's command topics are decided by one
// worker with one transactional producer, so one transaction covers them all
// and the replies partition p has a single writer.
//
// Partition numbers are dealt round-robin over the members sorted by id, so two
// members of a six-partition group get three numbers each. Every member of a
// group must use this assigner (kafkajs refuses a join whose protocols share
// none), and all subscribed topics should have the same partition count; a
// topic with fewer partitions simply has no partition for the higher numbers.
import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

export const CO_PARTITIONED = 'CoPartitioned';

/** Which member gets partition number `index`, given the members sorted by id. */
export function ownerOf(index: number, members: readonly string[]): string | undefined {
  return members.length === 0 ? undefined : members[index % members.length];
}

/** The assignment, as topic -> partitions per member, for topics with the given partition counts. */
export function coPartition(memberIds: readonly string[], partitionCounts: ReadonlyMap<string, number>): Map<string, Record<string, number[]>> {
  const members = [...memberIds].sort();
  const result = new Map<string, Record<string, number[]>>(members.map((m) => [m, {}]));
  for (const [topic, count] of [...partitionCounts].sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (let p = 0; p < count; p += 1) {
      const owner = ownerOf(p, members);
      if (owner === undefined) continue;
      const assignment = result.get(owner) as Record<string, number[]>;
      (assignment[topic] ??= []).push(p);
    }
  }
  return result;
}

export const CoPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: CO_PARTITIONED,
  version: 1,
  async assign({ members, topics }) {
    const counts = new Map(topics.map((topic) => [topic, cluster.findTopicPartitionMetadata(topic).length] as const));
    const assignment = coPartition(
      members.map((m) => m.memberId),
      counts,
    );
    return [...assignment].map(([memberId, topicPartitions]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: topicPartitions, userData: Buffer.alloc(0) }),
    }));
  },
  protocol({ topics }) {
    return { name: CO_PARTITIONED, metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
  },
});
