// A task whose transaction was fenced (docs/stateful-runtime.md "Fencing"):
// another producer took its transactional id `<group>.<p>`. Almost always that
// is another instance that was given partition p while this one had not heard
// of the rebalance yet (a member that missed heartbeats, e.g. while a broker
// was away). Restoring at once would fence that owner in turn, whose restore
// fences this one back: the two take turns, each paying a restore, until this
// one's next heartbeat tells it the partition moved. So a fenced task restores
// only once the group says the partition is still its own: in the next
// assignment, or in a description of the group (the case where the
// coordinator itself bumped the epoch, aborting a transaction that ran past
// its timeout, and nobody else owns the partition).
import { AssignerProtocol, type GroupDescription } from 'kafkajs';

const FENCED_TYPES: ReadonlySet<string> = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']);

/** Whether `error` (or any error it wraps) says another producer took the transactional id. */
export function isFenced(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e: unknown = error; typeof e === 'object' && e !== null && !seen.has(e); ) {
    seen.add(e);
    const { type, name } = e as { type?: unknown; name?: unknown };
    if ((typeof type === 'string' && FENCED_TYPES.has(type)) || name === 'KafkaJSProducerFenced') return true;
    const { cause, originalError } = e as { cause?: unknown; originalError?: unknown };
    e = originalError ?? cause;
  }
  return false;
}

/**
 * Whether the described group, settled (Stable), has `memberId` as a member
 * assigned `partition` of any of `topics`. Anything else (rebalancing, not a
 * member, not assigned it) is no: wait for the assignment.
 */
export function assignedIn(group: GroupDescription | undefined, memberId: string | undefined, topics: readonly string[], partition: number): boolean {
  if (group === undefined || memberId === undefined || group.state !== 'Stable') return false;
  const member = group.members.find((m) => m.memberId === memberId);
  if (member === undefined || member.memberAssignment.length === 0) return false;
  const decoded = AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
  return decoded !== null && topics.some((topic) => (decoded.assignment[topic] ?? []).includes(partition));
}
