// The per-task loop (docs/stateful-runtime.md "Rounds"): work (partition
// batches of every input topic, due deadlines, offset flushes) is queued per
// task and drained in order; everything queued when a round starts goes into
// one transaction (group commit). A round that changes nothing (a replay)
// writes nothing; its offsets ride with the next transaction or a flush after
// `offsetFlushMs`. If a transaction fails it is aborted, the round's work is
// handed back (the consumer retries the batch; with the decoupled fetch,
// fetch-queue.ts, the batches are dropped and the consumer rewound once the
// task is restored), and the task is restored from
// its store, the changelog and the committed offsets before anything else is
// decided: a commit whose outcome was unknown cannot be applied twice.
//
// The on-disk store is written only after the commit returned, with the
// changelog offset after the round's records: it never holds what the
// committed log does not (docs/state-stores.md "Safety").
import { performance } from 'node:perf_hooks';
import type { Logger } from '../logging';
import { endSpan } from '../tracing/spans';
import type { DecideContext } from './round';
import { emptyRound, mergeInto, type Round, type Work } from './round';
import type { DeadlineScheduler } from './deadline-scheduler';
import { PartitionRevoked, type Queued, type RuntimeCounts, type Task } from './task';
import { transactParts, type PartWrite } from './transact';
import { isFenced } from './fencing';
import type { PositionStore, PositionWrite } from './position-store';
import { sequencedParts, type Sequencing } from './sequenced-round';
import { TaskParts, type LoopPart } from './task-parts';
import { storeCommitted, type CommitHooks } from './task-commit';
import type { FetchQueue } from './fetch-queue';
import { ProcessingError } from '../consuming/batch-sink';
import { decideIsolating } from './isolate';

export type { LoopPart } from './task-parts';

export interface LoopHooks<S> extends CommitHooks<S> {
  readonly log: Logger;
  readonly groupId: string;
  readonly offsetFlushMs: number;
  readonly counts: RuntimeCounts;
  readonly emittedByType: Map<string, number>;
  /** A loop given one DecideContext (its only part): where its consumed positions go, and its fold version. */
  readonly positions?: PositionStore;
  readonly foldVersion?: number;
  readonly clock: () => number;
  /** Present when a part has sequenced topics (emit-offsets.ts). */
  readonly sequencing?: Sequencing;
  readonly scheduler: DeadlineScheduler<Task<S>>;
  stopping(): boolean;
  /** Restores a dirty task in place. */
  reload(task: Task<S>): Promise<void>;
  /** Whether the group says the task's partition is this instance's now (a fenced task restores only then; fencing.ts). Without it, a fenced task restores at once. */
  owned?(task: Task<S>): Promise<boolean>;
  readonly betweenCommitAndStore?: (partition: number, changelogs: readonly string[]) => Promise<void>;
  /** After each committed transaction: how long its round took to decide and commit (the runtime's `onTransactionCommitted`). */
  readonly transactionCommitted?: (partition: number, seconds: number) => void;
  /** The decoupled fetch (fetch-queue.ts): rounds capped, failures isolated and retried here instead of by the consumer. */
  readonly queue?: FetchQueue<S>;
}

const yieldToIo = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const GROUP_POSITIONS: PositionStore = { mode: 'group', read: () => Promise.resolve(new Map()), write: () => Promise.resolve({ records: [], sendOffsets: true }) };

export class TaskLoop<S, I> {
  private readonly parts: TaskParts<S, I>;

  /** `parts`: the runtime's parts, or the one DecideContext of a single definition (with `hooks.positions`, `hooks.foldVersion`). */
  constructor(
    parts: DecideContext<S, I> | ReadonlyArray<LoopPart<S, I>>,
    private readonly hooks: LoopHooks<S>,
  ) {
    this.parts = new TaskParts('definition' in parts ? [{ ctx: parts, consumed: [], positions: hooks.positions ?? GROUP_POSITIONS, foldVersion: hooks.foldVersion ?? 1 }] : parts);
  }

  submit(task: Task<S>, work: Work): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      task.queue.push({ work, settle: (error) => (error === undefined ? resolve() : reject(error)) });
      this.keepDraining(task);
    });
  }

  /**
   * Starts the task's drain loop unless it runs. Work queued after the loop saw
   * an empty queue but before it was marked done (settled work whose caller
   * queues more in the microtasks between) would otherwise wait forever: the
   * loop is started again when it ends with work queued.
   */
  keepDraining(task: Task<S>): void {
    task.draining ??= this.drain(task).finally(() => {
      task.draining = undefined;
      if (task.queue.length > 0) this.keepDraining(task);
    });
  }

  armFlush(task: Task<S>): void {
    if (task.flushTimer !== undefined || this.hooks.stopping()) return;
    task.flushTimer = setTimeout(() => {
      task.flushTimer = undefined;
      if (task.retired || this.hooks.stopping()) return;
      this.submit(task, { kind: 'flush' }).catch((error: unknown) => this.hooks.log.warn({ err: error, partition: task.partition }, 'offset flush failed; the offsets ride with the next transaction'));
    }, this.hooks.offsetFlushMs);
  }

  private async drain(task: Task<S>): Promise<void> {
    const { queue } = this.hooks;
    while (task.queue.length > 0) {
      // Let the other topic's batch of the same fetch join this round.
      await yieldToIo();
      await queue?.pace(task);
      const round = queue === undefined ? task.queue.splice(0) : queue.take(task);
      if (task.retired) {
        for (const q of round) q.settle(new PartitionRevoked(`partition ${task.partition} was revoked`));
        continue;
      }
      if (task.fenced === true && !(await this.stillOwned(task))) {
        this.lose(task, round, new PartitionRevoked(`partition ${task.partition}: fenced by another producer; not restored until the group says it is still this instance's`));
        continue;
      }
      if (task.dirty) {
        try {
          await this.hooks.reload(task);
        } catch (error) {
          this.hooks.log.error({ err: error, partition: task.partition }, 'could not restore the partition; retrying its work later');
          this.lose(task, round, error);
          continue;
        }
      }
      try {
        await this.runRound(task, round);
      } finally {
        queue?.settled(task);
      }
    }
  }

  /** Work that could not be done is handed back; with the decoupled fetch, lost batches are read again once the task is restored. */
  private lose(task: Task<S>, items: readonly Queued[], error: unknown): void {
    for (const q of items) this.giveBack(task, q, error);
    if (this.hooks.queue !== undefined && items.some((q) => q.work.kind === 'batch')) this.hooks.queue.rewind(task);
  }

  private async stillOwned(task: Task<S>): Promise<boolean> {
    try {
      const owned = (await this.hooks.owned?.(task)) ?? true;
      if (owned) task.fenced = false;
      return owned;
    } catch (error) {
      this.hooks.log.debug({ err: error, partition: task.partition }, 'could not ask the group whose partition this is; asking again with the next work');
      return false;
    }
  }

  /** A queued piece of work that could not be done: a batch goes back to the consumer (which retries it); deadlines are tried again later. */
  private giveBack(task: Task<S>, queued: Queued, error: unknown): void {
    if (queued.work.kind === 'deadlines') {
      // Entries of an older load were queued again by the restore.
      this.hooks.scheduler.later(queued.work.due.filter((entry) => entry.epoch === task.epoch));
    }
    queued.settle(error);
  }

  /** Decides and commits one round; its steps' spans end when it is over (failed with the reason when it failed). */
  private async runRound(task: Task<S>, round: readonly Queued[]): Promise<void> {
    const merged = this.parts.all.map(() => emptyRound<S>());
    let failure: unknown;
    // The task group's next transaction waits (briefly) for this round to join it (task-group.ts).
    const { producer } = task;
    producer.deciding?.(true);
    try {
      failure = await this.decideAndCommit(task, round, merged);
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      producer.deciding?.(false);
      for (const r of merged) for (const span of r.spans) endSpan(span, failure);
    }
  }

  /** Returns the reason the round's transaction failed (its work was handed back), undefined when it committed or had nothing to write. */
  private async decideAndCommit(task: Task<S>, round: readonly Queued[], merged: ReadonlyArray<Round<S>>): Promise<unknown> {
    const started = performance.now();
    const accepted: Queued[] = [];
    let isolated = 0;
    for (const [i, queued] of round.entries()) {
      try {
        await this.parts.decide(task, queued.work, merged);
        accepted.push(queued);
      } catch (error) {
        const { queue } = this.hooks;
        if (queue === undefined || queued.work.kind !== 'batch') {
          // This piece alone (a decision that throws, facts not available, a stale state): the rest of the round goes on.
          this.giveBack(task, queued, error);
          continue;
        }
        // Decoupled fetch: the culprit of a decision that throws is found here (isolate.ts); any other failure is retried in order.
        try {
          if (!(error instanceof ProcessingError) || queued.work.batch.records.length === 0) throw error;
          const [{ part: k } = { part: 0 }] = this.parts.route(queued.work);
          const { part, isolated: letters } = await decideIsolating(this.parts.part(k).ctx, this.parts.view(task, k), queued.work.batch, merged[k] as Round<S>);
          mergeInto(merged[k] as Round<S>, part);
          accepted.push(queued);
          isolated += letters.length;
          for (const l of letters) this.hooks.log.warn({ topic: l.topic, partition: l.partition, offset: l.offset, error: l.error }, 'decision keeps failing; dead-lettering its input');
        } catch (retriable) {
          queue.retry(task, round.slice(i), retriable);
          break;
        }
      }
    }
    if (accepted.length === 0) return undefined;
    const { counts } = this.hooks;
    const sum = (f: (r: Round<S>) => number): number => merged.reduce((n, r) => n + f(r), 0);
    counts.inputsDecided += sum((r) => r.decided);

    const flush = accepted.some((q) => q.work.kind === 'flush');
    const nothingToWrite = merged.every((r) => r.emit.length === 0 && r.states.size === 0 && r.dead.length === 0 && r.control.length === 0 && r.late.length === 0);
    if (nothingToWrite && !flush) {
      // A replay or irrelevant inputs: no transaction; the offsets wait for the next one, or a flush.
      for (const r of merged) for (const [topic, offset] of r.offsets) task.pendingOffsets.set(topic, Math.max(task.pendingOffsets.get(topic) ?? 0, offset));
      this.armFlush(task);
      for (const q of accepted) q.settle();
      return undefined;
    }
    const offsets = new Map(task.pendingOffsets);
    for (const r of merged) for (const [topic, offset] of r.offsets) offsets.set(topic, Math.max(offsets.get(topic) ?? 0, offset));
    if (nothingToWrite && offsets.size === 0) {
      for (const q of accepted) q.settle();
      return undefined;
    }
    let changelogOffsets: ReadonlyArray<number | undefined> = [];
    let writes: Array<PartWrite<S>> = [];
    let lateTypes: readonly string[] = [];
    const where = { groupId: this.hooks.groupId, partition: task.partition };
    try {
      // Each part's position store writes the positions of its own topics (its checkpoints go to its own changelog).
      const split = this.parts.splitOffsets(offsets);
      const now = this.hooks.clock();
      const positions: PositionWrite[] = [];
      for (const [k, part] of this.parts.all.entries()) positions.push(await part.positions.write(task.partition, split[k] ?? new Map(), now));
      writes = this.parts.all.map((part, k) => ({ changelog: part.ctx.changelog.physical, round: merged[k] as Round<S>, positions: positions[k] as PositionWrite }));
      const { sequencing } = this.hooks;
      if (sequencing === undefined) ({ changelogOffsets } = await transactParts(task.producer, where, writes, offsets));
      else ({ changelogOffsets, lateTypes } = await sequencedParts(sequencing, task, where, writes, offsets, counts));
    } catch (error) {
      task.dirty = true;
      counts.transactionsFailed += 1;
      if (isFenced(error)) {
        task.fenced = true;
        this.hooks.log.warn({ err: error, partition: task.partition }, 'transaction fenced: another instance has the partition, or the coordinator aborted the transaction; restoring only once the group says it is still this instance\'s');
      } else this.hooks.log.error({ err: error, partition: task.partition }, 'transaction aborted; restoring the partition before its work is tried again');
      this.lose(task, accepted, error);
      return error;
    }
    counts.transactions += 1;
    try {
      this.hooks.transactionCommitted?.(task.partition, (performance.now() - started) / 1000);
    } catch (error) {
      // An observer's failure is no reason to leave a committed round unstored.
      this.hooks.log.warn({ err: error, partition: task.partition }, 'the transaction observer failed');
    }
    counts.deadLettered += isolated;
    clearTimeout(task.flushTimer);
    task.flushTimer = undefined;
    task.pendingOffsets.clear();
    for (const [topic, offset] of offsets) task.committed.set(topic, offset);
    await this.hooks.betweenCommitAndStore?.(task.partition, writes.filter((_, k) => changelogOffsets[k] !== undefined).map((w) => w.changelog));
    storeCommitted(task, writes, this.parts.all.map((p) => p.foldVersion), changelogOffsets, this.hooks);
    counts.inputsChanged += sum((r) => r.changed);
    counts.deadlinesFired += sum((r) => r.fired);
    const emitted = merged.flatMap((r) => r.emit.map((o) => o.type));
    counts.messagesEmitted += emitted.length + lateTypes.length;
    for (const type of [...emitted, ...lateTypes]) this.hooks.emittedByType.set(type, (this.hooks.emittedByType.get(type) ?? 0) + 1);
    this.hooks.scheduler.arm();
    for (const q of accepted) q.settle();
    this.hooks.log.debug({ partition: task.partition, decided: sum((r) => r.decided), changed: sum((r) => r.changed), emitted: emitted.length, dead: sum((r) => r.dead.length) }, 'transaction committed');
    return undefined;
  }
}
