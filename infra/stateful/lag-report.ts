// The lag report of a runtime with its positions in the changelog and the
// decoupled fetch (docs/stateful-runtime.md "Positions", "Decoupled fetch"):
// the group's offsets, committed outside the transactions for lag monitoring
// and kafka-consumer-groups only, are each task's committed positions (what
// its last committed transaction covered, `task.committed`), never what the
// consumer has fetched and queued ahead of the decisions. Once a second, only
// what moved since the last report; and once more at stop. Trailing
// transaction markers are covered too: once nothing of a topic waits, a batch
// of markers moves the task's positions, which a flush commits (runtime.ts
// `progressed`), and the report follows.
import type { Logger } from '../logging';
import type { Task } from './task';

export interface ReportedOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export interface LagReportDeps<S> {
  readonly log: Logger;
  /** The tasks this instance holds. */
  tasks(): Iterable<Task<S>>;
  /** Commits the offsets to the group, outside any transaction (the consumer's commitOffsets). */
  commit(offsets: readonly ReportedOffset[]): Promise<void>;
  /** How often (default 1,000 ms). */
  readonly intervalMs?: number;
}

/** The offsets to report: each held task's committed positions that differ from what was last reported for it. */
export function toReport<S>(tasks: Iterable<Task<S>>, reported: WeakMap<Task<S>, Map<string, number>>): ReportedOffset[] {
  const out: ReportedOffset[] = [];
  for (const task of tasks) {
    // A fenced task may no longer be this instance's: its new owner reports.
    if (task.retired || task.fenced === true) continue;
    const last = reported.get(task);
    for (const [topic, offset] of task.committed) if (last?.get(topic) !== offset) out.push({ topic, partition: task.partition, offset: String(offset) });
  }
  return out;
}

export class LagReport<S> {
  /** Per task (a partition taken on again is a new task, reported afresh): topic -> offset last reported. */
  private readonly reported = new WeakMap<Task<S>, Map<string, number>>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly deps: LagReportDeps<S>) {}

  start(): void {
    this.timer = setInterval(() => void this.report(), this.deps.intervalMs ?? 1_000);
    this.timer.unref();
  }

  /** Stops the timer, runs `last` (the last commits), and reports what is left, while the consumer is still in its group. */
  async stop(last?: () => Promise<unknown>): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    await last?.();
    await this.report();
  }

  /** Commits what moved since the last report; one report at a time. */
  report(): Promise<void> {
    this.running ??= this.send().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async send(): Promise<void> {
    const tasks = [...this.deps.tasks()];
    const offsets = toReport(tasks, this.reported);
    if (offsets.length === 0) return;
    try {
      await this.deps.commit(offsets);
    } catch (error) {
      // A rebalance in progress, or the partitions just revoked: the next report (or the next owner's) carries them.
      this.deps.log.debug({ err: error }, 'could not report the committed positions to the group');
      return;
    }
    const byPartition = new Map(tasks.map((task) => [task.partition, task]));
    for (const { topic, partition, offset } of offsets) {
      const task = byPartition.get(partition);
      if (task === undefined) continue;
      const last = this.reported.get(task) ?? new Map<string, number>();
      last.set(topic, Number(offset));
      this.reported.set(task, last);
    }
  }
}
