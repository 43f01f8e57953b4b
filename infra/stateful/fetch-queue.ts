// Fetching decoupled from deciding (docs/stateful-runtime.md "Decoupled fetch"),
// the runtime's `decoupledFetch` mode. The EventConsumer hands a batch over
// (`write`) and moves on at once: the batch is queued on its task, whose loop
// (task-loop.ts) drains on its own, at most `maxPerRound` records a round.
//
// * A partition of an input with more than `maxQueued` records waiting is
//   paused, and resumed once fewer than `resumeBelow` wait.
// * Each topic of a task remembers the offset it has queued up to; a batch
//   fetched again (after a rebalance, or a rewind) queues only what is new.
// * A round whose transaction fails drops its batches and everything queued;
//   the task is marked dirty (or fenced) as always, and once it is restored the
//   consumer is rewound to the task's committed offsets: nothing is decided
//   twice (the restore) and nothing is lost (the re-fetch).
// * A retriable failure (the registry or Kafka away, facts not caught up)
//   puts the round's undecided work back at the head of the queue, in order,
//   and the next round waits a backoff.
// * Offsets move only inside transactions; a batch of markers only moves them
//   only while nothing of its topic waits (`idle`).
import type { Logger } from '../logging';
import type { PartitionBatch } from '../consuming/batch-sink';
import { backoffDelay, type RetryPolicy } from '../consuming/backoff';
import type { Queued, Task } from './task';

export interface FetchLimits {
  /** A partition with more records than this waiting is paused (default 5,000). */
  readonly maxQueued: number;
  /** A paused partition resumes once fewer than this wait (default a quarter of maxQueued). */
  readonly resumeBelow: number;
  /** Records a round decides at most; a round takes whole batches, and always one (default 500). */
  readonly maxPerRound: number;
}

export const fetchLimits = (given: Partial<FetchLimits> = {}): FetchLimits => {
  const maxQueued = given.maxQueued ?? 5_000;
  return { maxQueued, resumeBelow: given.resumeBelow ?? Math.ceil(maxQueued / 4), maxPerRound: given.maxPerRound ?? 500 };
};

/** What the queue may ask of the consumer (infra/consuming/event-consumer.ts). */
export interface ConsumerControl {
  rewind(topic: string, partition: number, offset: number): void;
  pause(topic: string, partition: number): void;
  resume(topic: string, partition: number): void;
}

/** The part of `batch` at or after `upTo` (what is not queued yet); undefined when nothing of it is new. */
export function unseen(batch: PartitionBatch, upTo: number | undefined): PartitionBatch | undefined {
  if (upTo === undefined) return batch;
  if (batch.consumedUpTo <= upTo) return undefined;
  if (batch.records.every((r) => r.offset >= upTo) && batch.deadLetters.every((l) => l.offset >= upTo)) return batch;
  return { ...batch, records: batch.records.filter((r) => r.offset >= upTo), deadLetters: batch.deadLetters.filter((l) => l.offset >= upTo) };
}

/** Records a piece of work brings (a batch's records and dead letters; deadlines and flushes none). */
export const sizeOf = (queued: Queued): number => (queued.work.kind === 'batch' ? queued.work.batch.records.length + queued.work.batch.deadLetters.length : 0);

/** Takes the next round off the head of `queue`: whole pieces while they stay within `max` records, and always the first. */
export function takeRound(queue: Queued[], max: number): Queued[] {
  let records = 0;
  let n = 0;
  for (const q of queue) {
    const size = sizeOf(q);
    if (n > 0 && records + size > max) break;
    records += size;
    n += 1;
  }
  return queue.splice(0, n);
}

export const shouldPause = (queued: number, limits: FetchLimits): boolean => queued > limits.maxQueued;
export const shouldResume = (queued: number, limits: FetchLimits): boolean => queued < limits.resumeBelow;

interface FetchState {
  /** Topic -> the offset queued up to (consumedUpTo of the last batch queued). */
  readonly upTo: Map<string, number>;
  /** Topic -> records queued or being decided. */
  readonly waiting: Map<string, number>;
  readonly paused: Set<string>;
  /** A round failed: batches are dropped until the task is restored and the consumer rewound. */
  rewinding: boolean;
  /** Rounds in a row that put work back for a retriable failure. */
  failures: number;
  retried: boolean;
}

const RECOVERY: RetryPolicy = { attempts: Number.POSITIVE_INFINITY, initialDelayMs: 100, maxDelayMs: 2_000 };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface FetchQueueDeps<S> {
  readonly log: Logger;
  readonly limits: FetchLimits;
  /** The physical topics the task's consumer reads (inputs, and the parked topic). */
  readonly topics: readonly string[];
  consumer(): ConsumerControl;
  /** Starts the task's loop if it is not running. */
  kick(task: Task<S>): void;
  /** Queues a flush: it restores a dirty task (or finds a fenced one still not this instance's, and rejects). */
  restore(task: Task<S>): Promise<void>;
  stopping(): boolean;
}

export class FetchQueue<S> {
  private readonly states = new WeakMap<Task<S>, FetchState>();

  constructor(private readonly deps: FetchQueueDeps<S>) {}

  private stateOf(task: Task<S>): FetchState {
    let s = this.states.get(task);
    if (s === undefined) {
      s = { upTo: new Map(), waiting: new Map(), paused: new Set(), rewinding: false, failures: 0, retried: false };
      this.states.set(task, s);
    }
    return s;
  }

  /** Queues what of `batch` is new on its task and returns at once. */
  enqueue(task: Task<S>, batch: PartitionBatch): void {
    const s = this.stateOf(task);
    if (s.rewinding || this.deps.stopping()) return; // fetched before the rewind: read again after it
    const fresh = unseen(batch, s.upTo.get(batch.topic));
    if (fresh === undefined) return;
    const { topic } = fresh;
    s.upTo.set(topic, fresh.consumedUpTo);
    const size = fresh.records.length + fresh.deadLetters.length;
    s.waiting.set(topic, (s.waiting.get(topic) ?? 0) + size);
    let settled = false;
    task.queue.push({
      work: { kind: 'batch', batch: fresh },
      // Decided and committed, or dropped (revoked, a failed round): either way it no longer waits.
      settle: () => {
        if (settled) return;
        settled = true;
        s.waiting.set(topic, (s.waiting.get(topic) ?? 0) - size);
      },
    });
    if (shouldPause(s.waiting.get(topic) ?? 0, this.deps.limits) && !s.paused.has(topic)) {
      s.paused.add(topic);
      this.deps.consumer().pause(topic, task.partition);
    }
    this.deps.kick(task);
  }

  /** Whether nothing of `topic` waits to be decided on the task (a batch of markers only may then move its offset). */
  idle(task: Task<S>, topic: string): boolean {
    const s = this.stateOf(task);
    return !s.rewinding && !task.dirty && task.fenced !== true && (s.waiting.get(topic) ?? 0) === 0;
  }

  /** The next round of the task; once stopping, queued batches are dropped (left uncommitted for the next owner). */
  take(task: Task<S>): Queued[] {
    const s = this.stateOf(task);
    s.retried = false;
    if (this.deps.stopping()) {
      const kept = task.queue.splice(0).filter((q) => {
        if (q.work.kind === 'batch') q.settle();
        return q.work.kind !== 'batch';
      });
      return kept;
    }
    return takeRound(task.queue, this.deps.limits.maxPerRound);
  }

  /** A retriable failure: `rest` (the failing piece and what followed it) goes back to the head of the queue, in order. */
  retry(task: Task<S>, rest: readonly Queued[], error: unknown): void {
    const s = this.stateOf(task);
    s.retried = true;
    s.failures += 1;
    task.queue.unshift(...rest);
    this.deps.log.warn({ err: error, partition: task.partition, attempt: s.failures }, 'deciding failed (not the input\'s fault); retrying in order after a backoff');
  }

  /** Before a round: the backoff after a retriable failure. */
  async pace(task: Task<S>): Promise<void> {
    const s = this.stateOf(task);
    if (s.failures === 0) return;
    await sleep(backoffDelay(RECOVERY, s.failures + 1));
  }

  /** After a round: resumes partitions that caught up. */
  settled(task: Task<S>): void {
    const s = this.stateOf(task);
    if (!s.retried) s.failures = 0;
    if (s.rewinding) return;
    for (const topic of [...s.paused]) {
      if (shouldResume(s.waiting.get(topic) ?? 0, this.deps.limits)) {
        s.paused.delete(topic);
        this.deps.consumer().resume(topic, task.partition);
      }
    }
  }

  /**
   * A round's batches were lost (its transaction failed, or the task could not
   * be restored): drop everything queued, stop fetching the task's partitions,
   * and once the task is restored rewind the consumer to its committed offsets.
   */
  rewind(task: Task<S>): void {
    const s = this.stateOf(task);
    const kept = task.queue.splice(0).filter((q) => {
      if (q.work.kind === 'batch') q.settle();
      return q.work.kind !== 'batch';
    });
    task.queue.push(...kept);
    if (s.rewinding) return;
    s.rewinding = true;
    for (const topic of this.deps.topics) {
      if (s.paused.has(topic)) continue;
      s.paused.add(topic);
      this.deps.consumer().pause(topic, task.partition);
    }
    this.recover(task, 1);
  }

  private recover(task: Task<S>, attempt: number): void {
    if (task.retired || this.deps.stopping()) return;
    this.deps
      .restore(task)
      .then(() => {
        if (task.retired) return;
        if (task.dirty || task.fenced === true) throw new Error(`partition ${task.partition} is not restored yet`);
        const s = this.stateOf(task);
        s.upTo.clear();
        for (const topic of this.deps.topics) {
          const offset = task.committed.get(topic);
          if (offset !== undefined) s.upTo.set(topic, offset);
          // Read again from here: a deadline that comes due waits for the inputs to be read past it again.
          task.positions.set(topic, offset ?? 0);
          this.deps.consumer().rewind(topic, task.partition, offset ?? 0);
        }
        s.rewinding = false;
        for (const topic of [...s.paused]) if (shouldResume(s.waiting.get(topic) ?? 0, this.deps.limits)) this.resume(task, s, topic);
        this.deps.log.info({ partition: task.partition, offsets: Object.fromEntries(task.committed) }, 'partition restored; reading again from its committed offsets');
      })
      .catch((error: unknown) => {
        const delayMs = backoffDelay(RECOVERY, attempt + 1);
        this.deps.log.warn({ err: error, partition: task.partition, attempt, delayMs }, 'partition not restored yet; trying again');
        setTimeout(() => this.recover(task, attempt + 1), delayMs).unref();
      });
  }

  private resume(task: Task<S>, s: FetchState, topic: string): void {
    s.paused.delete(topic);
    this.deps.consumer().resume(topic, task.partition);
  }

  /** The task is revoked or stopped: what it paused is resumed (for whoever reads the partitions next). */
  retire(task: Task<S>): void {
    const s = this.stateOf(task);
    for (const topic of [...s.paused]) this.resume(task, s, topic);
    s.rewinding = false;
  }
}
