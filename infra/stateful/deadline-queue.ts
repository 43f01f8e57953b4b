// The scheduler's queue: pending deadlines ordered by firing time (a binary
// min-heap). Entries are never removed in place; a deadline that was cancelled
// or already fired stays until it is popped, and the runtime checks it against
// the process state then (the state is the authority, the queue only a timer).
export interface QueuedDeadline {
  /** When to fire: the deadline's dueAt, or later when a firing failed and is tried again. */
  readonly fireAt: number;
  /** The deadline as the state has it (its identity: name and dueAt). */
  readonly dueAt: number;
  readonly partition: number;
  readonly processId: string;
  /** The task's part (definition) whose process set it (docs/stateful-runtime.md "Several definitions per task"); default 0. */
  readonly part?: number;
  readonly name: string;
  /** The restore of the partition this entry was queued in; entries of an older restore are stale. */
  readonly epoch: number;
  /** The trace context of the step that set the deadline (`traceparent`): its firing is a span in that trace. */
  readonly trace?: Readonly<Record<string, string>> | undefined;
}

export class DeadlineQueue {
  private readonly heap: QueuedDeadline[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): QueuedDeadline | undefined {
    return this.heap[0];
  }

  push(entry: QueuedDeadline): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as QueuedDeadline).fireAt <= entry.fireAt) break;
      heap[i] = heap[parent] as QueuedDeadline;
      i = parent;
    }
    heap[i] = entry;
  }

  pop(): QueuedDeadline | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && (heap[right] as QueuedDeadline).fireAt < (heap[left] as QueuedDeadline).fireAt ? right : left;
      if ((heap[child] as QueuedDeadline).fireAt >= last.fireAt) break;
      heap[i] = heap[child] as QueuedDeadline;
      i = child;
    }
    heap[i] = last;
    return top;
  }

  /** Removes and returns every entry to fire at or before `now`, earliest first. */
  popDue(now: number): QueuedDeadline[] {
    const due: QueuedDeadline[] = [];
    while (this.heap.length > 0 && (this.heap[0] as QueuedDeadline).fireAt <= now) due.push(this.pop() as QueuedDeadline);
    return due;
  }

  /** Drops every entry `keep` rejects (a partition that was revoked). */
  retain(keep: (entry: QueuedDeadline) => boolean): void {
    const kept = this.heap.filter(keep);
    this.heap.length = 0;
    for (const entry of kept) this.push(entry);
  }
}
