// A partition assigner that keeps partition number p of every subscribed topic
// on the same member (what Kafka Streams calls co-partitioning). The command
// processor (the stateful runtime, infra/stateful/runtime-consumer.ts) relies on
// it: all of an index's command topics are decided by one task with one
// transactional producer, so one transaction covers them all and the replies
// partition p has a single writer.
//
// Partition numbers are dealt round-robin over the members sorted by id, so two
// members of a six-partition group get three numbers each. With a group size k
// above 1 (`coPartitionedAssigner(k)`), whole groups of k consecutive numbers
// are dealt instead ({0,1,2}, {3,4,5} for k = 3): the runtime then runs one
// task group, and one transactional producer, per group (docs/stateful-runtime.md "Task groups").
// Every member of a group must use this assigner with the same k: the protocol's
// name carries k, so kafkajs refuses a join whose protocols share none (a member
// with another k) rather than letting two members own overlapping groups. All
// subscribed topics should have the same partition count; a topic with fewer
// partitions simply has no partition for the higher numbers.
//
// Sticky (the stateful runtime gives one: runtime-consumer.ts): a member given an `OwnedPartitions` says at each join which
// partition numbers it owns, and keeps them as far as a balanced share allows
// (coPartitionSticky). A consumer that crashed and joined again (kafkajs
// restarts it as a new member, with a new id) gets its own partitions back
// instead of a deal by the new ids, which moved partitions between the
// instances, each move a restore (docs/chaos.md "Issue #16's findings").
import { AssignerProtocol, type Consumer, type PartitionAssigner } from 'kafkajs';

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

/** The partition numbers a member owns now, which it claims again at its next join (sticky assignment). */
export class OwnedPartitions {
  private numbers: readonly number[] = [];

  get owned(): readonly number[] {
    return this.numbers;
  }

  /** Remembers each assignment the consumer joins with. */
  follow(consumer: Pick<Consumer, 'on' | 'events'>): void {
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.numbers = [...new Set(Object.values(payload.memberAssignment).flat())].sort((a, b) => a - b);
    });
  }
}

export interface MemberClaim {
  readonly memberId: string;
  /** Partition numbers the member owned before this rebalance. */
  readonly owned: readonly number[];
}

/**
 * The co-partitioned assignment that keeps what members owned: each member gets
 * ⌊groups / members⌋ or one more of the groups of k numbers; a member keeps the
 * groups it owned up to that share (members claiming fewer first, so a member
 * that rejoined keeps its own rather than the one that stood in for it), and
 * the groups left are dealt to the members with fewest, by id. With no claims
 * it is coPartition's round-robin deal.
 */
export function coPartitionSticky(claims: readonly MemberClaim[], partitionCounts: ReadonlyMap<string, number>, k = 1): Map<string, Record<string, number[]>> {
  const members = [...claims].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
  const result = new Map<string, Record<string, number[]>>(members.map((m) => [m.memberId, {}]));
  if (members.length === 0) return result;
  const groupCount = Math.ceil(Math.max(0, ...partitionCounts.values()) / k);
  const base = Math.floor(groupCount / members.length);
  let extra = groupCount % members.length;
  const owner = new Map<number, string>();
  const held = new Map<string, number>(members.map((m) => [m.memberId, 0]));
  const claimed = new Map(members.map((m) => [m.memberId, [...new Set(m.owned.map((p) => Math.floor(p / k)))].filter((g) => g < groupCount).sort((a, b) => a - b)]));
  const byClaims = [...members].sort((a, b) => (claimed.get(a.memberId)?.length ?? 0) - (claimed.get(b.memberId)?.length ?? 0));
  const keep = (memberId: string, share: number): void => {
    for (const g of claimed.get(memberId) ?? []) {
      if ((held.get(memberId) ?? 0) >= share) return;
      if (owner.has(g)) continue;
      owner.set(g, memberId);
      held.set(memberId, (held.get(memberId) ?? 0) + 1);
    }
  };
  for (const m of byClaims) keep(m.memberId, base);
  for (const m of byClaims) {
    if (extra === 0) break;
    const before = held.get(m.memberId) ?? 0;
    keep(m.memberId, base + 1);
    if ((held.get(m.memberId) ?? 0) > before) extra -= 1;
  }
  for (let g = 0; g < groupCount; g += 1) {
    if (owner.has(g)) continue;
    // Fewest groups first, then by id: with no claims, group g goes to member g mod n (round robin).
    const fewest = members.reduce((best, m) => ((held.get(m.memberId) ?? 0) < (held.get(best.memberId) ?? 0) ? m : best));
    owner.set(g, fewest.memberId);
    held.set(fewest.memberId, (held.get(fewest.memberId) ?? 0) + 1);
  }
  for (const [topic, count] of [...partitionCounts].sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (let p = 0; p < count; p += 1) {
      const memberId = owner.get(Math.floor(p / k));
      if (memberId === undefined) continue;
      const assignment = result.get(memberId) as Record<string, number[]>;
      (assignment[topic] ??= []).push(p);
    }
  }
  return result;
}

function userDataOf(metadata: Buffer): Buffer | undefined {
  try {
    return metadata.length === 0 ? undefined : (AssignerProtocol.MemberMetadata.decode(metadata)?.userData ?? undefined);
  } catch {
    return undefined; // metadata this assigner cannot read claims nothing
  }
}

/** What a member's join metadata says it owned; nothing when it says nothing this assigner understands. */
export function claimedPartitions(userData: Buffer | null | undefined): number[] {
  if (userData === null || userData === undefined || userData.length === 0) return [];
  try {
    const parsed: unknown = JSON.parse(userData.toString('utf8'));
    return Array.isArray(parsed) ? parsed.filter((n): n is number => Number.isSafeInteger(n) && n >= 0) : [];
  } catch {
    return [];
  }
}

/** Co-partitioned assignment of groups of `k` consecutive partition numbers (a positive integer); sticky with `owned`. */
export function coPartitionedAssigner(k: number, owned?: OwnedPartitions): PartitionAssigner {
  if (!Number.isSafeInteger(k) || k < 1) throw new RangeError(`a partition group size must be a positive integer, not ${k}`);
  const name = coPartitionedName(k);
  return ({ cluster }) => ({
    name,
    version: 1,
    async assign({ members, topics }) {
      const counts = new Map(topics.map((topic) => [topic, cluster.findTopicPartitionMetadata(topic).length] as const));
      const claims = members.map((m) => ({ memberId: m.memberId, owned: claimedPartitions(userDataOf(m.memberMetadata)) }));
      const assignment = coPartitionSticky(claims, counts, k);
      return [...assignment].map(([memberId, topicPartitions]) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: topicPartitions, userData: Buffer.alloc(0) }),
      }));
    },
    protocol({ topics }) {
      const userData = owned === undefined || owned.owned.length === 0 ? Buffer.alloc(0) : Buffer.from(JSON.stringify(owned.owned));
      return { name, metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData }) };
    },
  });
}

export const CoPartitionedAssigner: PartitionAssigner = coPartitionedAssigner(1);
