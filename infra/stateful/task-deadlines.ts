// A task's states and the deadline scheduler kept in step
// (docs/stateful-runtime.md "Deadlines"): the stored states' deadlines are
// queued on assignment (from the store's index), a committed state's new ones
// as it is replaced, an unparked process's again; and a due deadline is still
// pending only while its state says so (the state is the authority).
import type { QueuedDeadline } from './deadline-queue';
import type { DeadlineScheduler } from './deadline-scheduler';
import type { StatefulDefinition } from './definition';
import type { RuntimeCounts, Task } from './task';
import type { TraceHeaders } from '../tracing/propagation';

export class TaskDeadlines<S> {
  constructor(
    /** Per part of the runtime, its definition (docs/stateful-runtime.md "Several definitions per task"). */
    private readonly definitions: ReadonlyArray<StatefulDefinition<S, unknown>>,
    private readonly scheduler: () => DeadlineScheduler<Task<S>>,
    private readonly counts: RuntimeCounts,
  ) {}

  /** Queues the stored states' deadlines (read from the store's index, not from the states). */
  track(task: Task<S>): void {
    task.parts.forEach(({ state }, part) => {
      let pending = 0;
      for (const { id, deadlines, trace } of state.pending()) {
        pending += deadlines.length;
        // Each fires in the trace of the step that set it, kept in the store beside the state.
        for (const d of deadlines) this.scheduler().push({ fireAt: d.dueAt, dueAt: d.dueAt, name: d.name, partition: task.partition, processId: id, part, epoch: task.epoch, trace });
      }
      state.pendingDeadlines = pending;
    });
  }

  private definition(part: number): StatefulDefinition<S, unknown> {
    const d = this.definitions[part];
    if (d === undefined) throw new Error(`no part ${part} in this runtime`);
    return d;
  }

  /** Counts and timers for a state that went from `before` to `after` (committed). */
  replaced(task: Task<S>, part: number, id: string, before: S | undefined, after: S, trace: TraceHeaders): void {
    const d = this.definition(part);
    const old = before === undefined ? [] : d.deadlines(before);
    for (const deadline of d.deadlines(after)) {
      if (old.some((o) => o.name === deadline.name && o.dueAt === deadline.dueAt)) continue;
      this.scheduler().push({ fireAt: deadline.dueAt, dueAt: deadline.dueAt, name: deadline.name, partition: task.partition, processId: id, part, epoch: task.epoch, trace: trace.traceparent === undefined ? undefined : trace });
    }
    if (d.counters !== undefined) {
      const a = d.counters(after);
      const b = before === undefined ? { failures: 0, retries: 0 } : d.counters(before);
      this.counts.processFailures += Math.max(0, a.failures - b.failures);
      this.counts.processRetries += Math.max(0, a.retries - b.retries);
    }
  }

  /** A process unparked: its state's deadlines are scheduled again (they did not fire while it was parked). */
  unparked(task: Task<S>, part: number, id: string): void {
    let state: S | undefined;
    try {
      state = task.parts[part]?.state.get(id);
    } catch {
      return; // not readable by this build: nothing is decided on it anyway
    }
    if (state === undefined) return;
    for (const d of this.definition(part).deadlines(state)) this.scheduler().push({ fireAt: d.dueAt, dueAt: d.dueAt, name: d.name, partition: task.partition, processId: id, part, epoch: task.epoch, trace: undefined });
  }

  pending(task: Task<S>, entry: QueuedDeadline): boolean {
    try {
      const part = entry.part ?? 0;
      const state = task.parts[part]?.state.get(entry.processId);
      return state !== undefined && this.definition(part).deadlines(state).some((d) => d.name === entry.name && d.dueAt === entry.dueAt);
    } catch {
      return true; // not readable now (a schema to resolve): the round decides, and checks it again
    }
  }
}
