// A partition assigner that keeps partition number p of every subscribed topic
// on one member. A process's inputs (order events and payment messages of one
// order) are keyed by the same id, so they share a partition number; the member
// that owns p owns the process, its changelog partition and the transactional
// id that fences it. kafkajs's round robin spreads topic-partitions without
// regard to that and could split one process's inputs over two members.
import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

export const CO_PARTITIONED_ASSIGNER_NAME = 'CoPartitioned';

/**
 * Pure: spreads partition numbers round robin over the members, sorted by id;
 * every member gets all topics' partition p for each number p it is given.
 */
export function coPartition(memberIds: readonly string[], partitionsByTopic: Readonly<Record<string, readonly number[]>>): Record<string, Record<string, number[]>> {
  const members = [...memberIds].sort();
  const assignment: Record<string, Record<string, number[]>> = Object.fromEntries(members.map((m) => [m, {}]));
  if (members.length === 0) return assignment;
  const numbers = [...new Set(Object.values(partitionsByTopic).flat())].sort((a, b) => a - b);
  numbers.forEach((p, i) => {
    const member = assignment[members[i % members.length] as string] as Record<string, number[]>;
    for (const [topic, partitions] of Object.entries(partitionsByTopic)) {
      if (partitions.includes(p)) (member[topic] ??= []).push(p);
    }
  });
  return assignment;
}

export const coPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: CO_PARTITIONED_ASSIGNER_NAME,
  version: 1,
  async assign({ members, topics }) {
    const partitionsByTopic = Object.fromEntries(topics.map((topic) => [topic, cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId)]));
    const assignment = coPartition(
      members.map((m) => m.memberId),
      partitionsByTopic,
    );
    return Object.entries(assignment).map(([memberId, byTopic]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: byTopic, userData: Buffer.alloc(0) }),
    }));
  },
  protocol({ topics }) {
    return { name: CO_PARTITIONED_ASSIGNER_NAME, metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
  },
});
