// A partition assigner that keeps partition number p of every subscribed topic
// on the same member (what Kafka Streams calls co-partitioning). The command
// processor relies on it: all of an index's command topics are decided by one
// worker with one transactional producer, so one transaction covers them all
// and the replies partition p has a single writer.
//
// Partition numbers are dealt round-robin over the members sorted by id, so two
// members of a six-partition group get three numbers each. With a group size k
// above 1 (`coPartitionedAssigner(k)`), whole groups of k consecutive numbers
// are dealt instead ({0,1,2}, {3,4,5} for k = 3): the command processor then
// runs one worker, and one transactional producer, per group (partition-worker.ts).
// Every member of a group must use this assigner with the same k: the protocol's
// name carries k, so kafkajs refuses a join whose protocols share none (a member
// with another k) rather than letting two members own overlapping groups. All
// subscribed topics should have the same partition count; a topic with fewer
// partitions simply has no partition for the higher numbers.
import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

export const CO_PARTITIONED = 'CoPartitioned';

/** The assigner's protocol name for groups of `k` partition numbers (k = 1: the plain name, as before groups existed). */
export const coPartitionedName = (k: number): string => (k === 1 ? CO_PARTITIONED : `${CO_PARTITIONED}-${k}`);

/** Which member gets partition number `index`, given the members sorted by id and the group size. */
export function ownerOf(index: number, members: readonly string[], k = 1): string | undefined {
  return members.length === 0 ? undefined : members[Math.floor(index / k) % members.length];
}

/** The assignment, as topic -> partitions per member, for topics with the given partition counts. */
export function coPartition(memberIds: readonly string[], partitionCounts: ReadonlyMap<string, number>, k = 1): Map<string, Record<string, number[]>> {
  const members = [...memberIds].sort();
  const result = new Map<string, Record<string, number[]>>(members.map((m) => [m, {}]));
  for (const [topic, count] of [...partitionCounts].sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (let p = 0; p < count; p += 1) {
      const owner = ownerOf(p, members, k);
      if (owner === undefined) continue;
      const assignment = result.get(owner) as Record<string, number[]>;
      (assignment[topic] ??= []).push(p);
    }
  }
  return result;
}

/** Co-partitioned assignment of groups of `k` consecutive partition numbers (a positive integer). */
export function coPartitionedAssigner(k: number): PartitionAssigner {
  if (!Number.isSafeInteger(k) || k < 1) throw new RangeError(`a partition group size must be a positive integer, not ${k}`);
  const name = coPartitionedName(k);
  return ({ cluster }) => ({
    name,
    version: 1,
    async assign({ members, topics }) {
      const counts = new Map(topics.map((topic) => [topic, cluster.findTopicPartitionMetadata(topic).length] as const));
      const assignment = coPartition(
        members.map((m) => m.memberId),
        counts,
        k,
      );
      return [...assignment].map(([memberId, topicPartitions]) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: topicPartitions, userData: Buffer.alloc(0) }),
      }));
    },
    protocol({ topics }) {
      return { name, metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
    },
  });
}

export const CoPartitionedAssigner: PartitionAssigner = coPartitionedAssigner(1);
