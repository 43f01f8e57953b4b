// A partition task: what the runtime holds for one partition number p it owns
// (its fenced producer, its on-disk state per part, its offsets, its queue of work).
import type { QueuedDeadline } from './deadline-queue';
import type { PartitionState } from './partition-state';
import type { ParkedInput } from './parking';
import type { Work } from './round';
import type { TaskProducer } from './task-group';

export interface Queued {
  readonly work: Work;
  settle(error?: unknown): void;
}

/** What a task holds per part (definition): its store and its parked processes (docs/stateful-runtime.md "Several definitions per task"). */
export interface TaskPart<S> {
  state: PartitionState<S>;
  /** Parked processes of the partition as committed, each with its parked inputs in order (docs/stateful-runtime.md "Parking"). */
  parked: Map<string, readonly ParkedInput[]>;
}

export interface Task<S> {
  readonly partition: number;
  /** Its task group's producer (task-group.ts; the task's own with one partition per task). */
  producer: TaskProducer;
  /** The load (restore) this task's queued deadlines belong to. */
  epoch: number;
  /** Per part of the runtime, in its order (one for a single-definition runtime). */
  parts: Array<TaskPart<S>>;
  /** Physical input topic (of every part: their inputs are disjoint) -> offset committed in Kafka (by us or whoever owned the partition before). */
  readonly committed: Map<string, number>;
  /** Offsets of rounds that wrote nothing, not yet committed. */
  readonly pendingOffsets: Map<string, number>;
  /** Physical input topic -> offset after the last record decided. */
  readonly positions: Map<string, number>;
  readonly queue: Queued[];
  draining: Promise<void> | undefined;
  /** A transaction failed (or its store write did): restore before deciding anything else. */
  dirty: boolean;
  retired: boolean;
  /**
   * A transaction failed because another producer took the task's transactional id: most likely another
   * instance was given the partition and this one has not heard yet. No restore (which would fence that
   * owner back) until the group says the partition is still this instance's (fencing.ts).
   */
  fenced?: boolean;
  /** Due deadlines waiting for the inputs to reach `needs` (topic -> end offset when they came due). */
  gates: Array<{ readonly needs: ReadonlyMap<string, number>; readonly due: readonly QueuedDeadline[] }>;
  flushTimer: NodeJS.Timeout | undefined;
}

/** The partition is no longer this instance's; its queued work is dropped (kafkajs re-fetches for the new owner). */
export class PartitionRevoked extends Error {
  override readonly name = 'PartitionRevoked';
  readonly retriable = true;
}

/** Counts since start, for stats. */
export interface RuntimeCounts {
  deadlinesFired: number;
  inputsDecided: number;
  inputsChanged: number;
  messagesEmitted: number;
  processFailures: number;
  processRetries: number;
  transactions: number;
  transactionsFailed: number;
  restores: number;
  /** Rounds with late records written in one pass on predicted offsets, and predictions the broker's answer refuted (docs/stateful-runtime.md "Sequenced outputs"). */
  offsetsPredicted: number;
  offsetGuessesMissed: number;
  /** Inputs dead-lettered by the task loop (decoupled fetch, isolate.ts); the consumer counts the others. */
  deadLettered: number;
}

export const zeroCounts = (): RuntimeCounts => ({
  deadlinesFired: 0,
  inputsDecided: 0,
  inputsChanged: 0,
  messagesEmitted: 0,
  processFailures: 0,
  processRetries: 0,
  transactions: 0,
  transactionsFailed: 0,
  restores: 0,
  offsetsPredicted: 0,
  offsetGuessesMissed: 0,
  deadLettered: 0,
});
