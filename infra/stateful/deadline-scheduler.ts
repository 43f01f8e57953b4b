// Deadlines, a capability of definitions that have them (docs/stateful-runtime.md
// "Deadlines"). They are part of the state; the scheduler is only a timer (a
// heap checked against the state when it fires). A due deadline fires once the
// task has consumed its input partitions up to the ends they had when it came
// due, so inputs that were already in the log (an answer that arrived while
// this instance was down) are decided first, and a restart does not turn an
// answer in time into a timeout. It is decided like any input, with no
// consumed offset.
import type { Admin } from 'kafkajs';
import type { Logger } from '../logging';
import { DeadlineQueue, type QueuedDeadline } from './deadline-queue';

const MAX_TIMER_MS = 60_000;
export const RETRY_FIRING_MS = 1_000;

/** What the scheduler needs of a partition task. */
export interface SchedulerTask {
  readonly partition: number;
  readonly epoch: number;
  readonly retired: boolean;
  /** Physical input topic -> offset after the last record decided. */
  readonly positions: ReadonlyMap<string, number>;
  /** Due deadlines waiting for the inputs to reach `needs` (topic -> end offset when they came due). */
  gates: Array<{ readonly needs: ReadonlyMap<string, number>; readonly due: readonly QueuedDeadline[] }>;
}

export interface SchedulerHooks<T extends SchedulerTask> {
  readonly clock: () => number;
  readonly log: Logger;
  readonly inputs: readonly string[];
  /** The inputs a part's deadlines wait for (docs/stateful-runtime.md "Several definitions per task"); default all. */
  inputsOf?(part: number): readonly string[];
  task(partition: number): T | undefined;
  /** Whether the process still has this deadline (most are cancelled by an answer before they come due). */
  pending(task: T, entry: QueuedDeadline): boolean;
  /** Queues due deadlines as work of their task. */
  submit(task: T, due: readonly QueuedDeadline[]): Promise<void>;
  admin(): Admin | undefined;
}

export class DeadlineScheduler<T extends SchedulerTask> {
  private readonly queue = new DeadlineQueue();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private firing = false;
  private stopped = false;

  constructor(private readonly hooks: SchedulerHooks<T>) {}

  push(entry: QueuedDeadline): void {
    this.queue.push(entry);
  }

  /** Forgets a partition's deadlines (revoked). */
  forget(partition: number): void {
    this.queue.retain((e) => e.partition !== partition);
  }

  /** Tries deadlines again a little later (their firing failed). */
  later(entries: readonly QueuedDeadline[]): void {
    const fireAt = this.hooks.clock() + RETRY_FIRING_MS;
    for (const entry of entries) this.queue.push({ ...entry, fireAt });
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  arm(): void {
    if (this.stopped) return;
    const next = this.queue.peek();
    if (next === undefined || (this.timer !== undefined && this.timerAt <= next.fireAt)) return;
    clearTimeout(this.timer);
    this.timerAt = next.fireAt;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        void this.fireDue();
      },
      Math.min(MAX_TIMER_MS, Math.max(0, next.fireAt - this.hooks.clock())),
    );
  }

  private async fireDue(): Promise<void> {
    if (this.firing || this.stopped) return;
    this.firing = true;
    const due = this.queue.popDue(this.hooks.clock());
    try {
      const byTask = new Map<T, QueuedDeadline[]>();
      for (const entry of due) {
        const task = this.hooks.task(entry.partition);
        if (task === undefined || task.retired || entry.epoch !== task.epoch || !this.hooks.pending(task, entry)) continue;
        const list = byTask.get(task);
        if (list === undefined) byTask.set(task, [entry]);
        else list.push(entry);
      }
      if (byTask.size > 0) {
        const ends = await this.inputEnds();
        for (const [task, entries] of byTask) {
          // A part's deadlines wait for its own inputs only: answers to its processes arrive there, not on another part's.
          for (const part of new Set(entries.map((e) => e.part ?? 0))) {
            const topics = this.hooks.inputsOf?.(part) ?? this.hooks.inputs;
            const needs = new Map(topics.map((topic) => [topic, ends.get(topic)?.get(task.partition) ?? 0] as const));
            task.gates.push({ needs, due: entries.filter((e) => (e.part ?? 0) === part) });
          }
          this.openGates(task);
        }
      }
    } catch (error) {
      this.hooks.log.warn({ err: error, deadlines: due.length }, 'could not fire due deadlines; trying again shortly');
      const fireAt = this.hooks.clock() + RETRY_FIRING_MS;
      for (const entry of due) this.queue.push({ ...entry, fireAt });
    } finally {
      this.firing = false;
      this.arm();
    }
  }

  /** The end (last stable offset) of every input partition now. */
  private async inputEnds(): Promise<Map<string, Map<number, number>>> {
    const admin = this.hooks.admin();
    if (admin === undefined) throw new Error('the runtime is not started');
    const ends = new Map<string, Map<number, number>>();
    for (const topic of this.hooks.inputs) ends.set(topic, new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)])));
    return ends;
  }

  /** Submits the due deadlines whose inputs have been consumed far enough. */
  openGates(task: T): void {
    const open = task.gates.filter((g) => [...g.needs].every(([topic, end]) => (task.positions.get(topic) ?? 0) >= end));
    if (open.length === 0) return;
    task.gates = task.gates.filter((g) => !open.includes(g));
    this.hooks.submit(task, open.flatMap((g) => g.due)).catch((error: unknown) => this.hooks.log.warn({ err: error, partition: task.partition }, 'deadlines not fired; trying again shortly'));
  }
}
