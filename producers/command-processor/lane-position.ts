// How far a lane (one command partition of a worker) has been read, and the
// offset its group reports for lag monitoring and kafka-consumer-groups.
//
// A command topic that process managers write in transactions has a commit
// marker after each of their commands: an offset that holds no command and
// that the processor's read-committed consumer is never handed. The
// checkpoint (the offset after the last command decided) then stops one short
// of the partition's end, and reporting it would show a caught-up processor a
// lag of 1 for ever. So the lane also follows `readUpTo`: the offset after the
// last thing fetched, markers and aborted records included, with every
// command below it queued. Once everything queued is decided, nothing but
// markers and aborted records lies between the checkpoint and `readUpTo`, and
// `readUpTo` is reported. The checkpoint itself is left where it is: a
// restarted worker starts from it and reads the markers again.
import type { Lane } from './lane';

/**
 * A fetched range of the partition, `first`..`last` (markers and aborted
 * records included), has been read, and every command in it is queued (or was
 * before). Moves `readUpTo` past it when it follows on from what was read; a
 * range that starts further on says nothing about the gap and moves nothing.
 * Returns whether it moved.
 */
export function readThrough(lane: Pick<Lane, 'readUpTo'>, first: number, last: number): boolean {
  if (first > lane.readUpTo || last + 1 <= lane.readUpTo) return false;
  lane.readUpTo = last + 1;
  return true;
}

/**
 * The offset to commit to the group: `readUpTo` when every command read has
 * been decided and committed (nothing queued, none in a transaction), so that
 * only markers or aborted records lie past the checkpoint; else the checkpoint.
 */
export function reportedOffset(lane: Pick<Lane, 'committed' | 'queuedUpTo' | 'readUpTo' | 'queue'>): number {
  const idle = lane.queue.length === 0 && lane.committed >= lane.queuedUpTo;
  return idle ? Math.max(lane.committed, lane.readUpTo) : lane.committed;
}
