// After a round's transaction committed (docs/stateful-runtime.md "Rounds",
// "Several definitions per task"): each part's store gets its changed states
// and checkpoint rows under the offset after that part's records in its own
// changelog (from the produce response), so no store ever holds what the
// committed log does not; then the task's parked processes, deadlines and
// counts follow. A store write that fails marks the whole task dirty: it is
// restored (every part) before it decides anything else.
import type { Logger } from '../logging';
import type { TraceHeaders } from '../tracing/propagation';
import { checkpointRows } from './position-store';
import { assertEncoded, type Round } from './round';
import type { Task } from './task';
import type { PartWrite } from './transact';

export interface CommitHooks<S> {
  readonly log: Logger;
  /** Stats and timers for a state of part `part` that went from `before` to `after` in the step traced by `trace`. */
  replaced(task: Task<S>, part: number, id: string, before: S | undefined, after: S, trace: TraceHeaders): void;
  /** A process of part `part` was unparked: its deadlines are scheduled again. */
  unparked(task: Task<S>, part: number, id: string): void;
}

/** Writes each part's share of a committed round into its store, then its parked processes and deadlines. */
export function storeCommitted<S>(
  task: Task<S>,
  writes: ReadonlyArray<PartWrite<S>>,
  foldVersions: readonly number[],
  changelogOffsets: ReadonlyArray<number | undefined>,
  hooks: CommitHooks<S>,
): void {
  const replaced: Array<() => void> = [];
  writes.forEach(({ round, positions }, k) => {
    const slot = task.parts[k];
    if (slot === undefined) throw new Error(`the task of partition ${task.partition} has no part ${k}`);
    // The state before the round as read when it was decided (the store only when the round did not keep it): no second read, nor decode.
    const changes = new Map([...round.states].map(([id, { state, record, trace }]) => [id, { state, value: assertEncoded(id, record), before: round.before.has(id) ? round.before.get(id) : slot.state.get(id), trace }] as const));
    if (changes.size > 0 || positions.records.length > 0) {
      try {
        const offset = changelogOffsets[k];
        if (offset === undefined) throw new Error('the produce response gave no changelog offset');
        slot.state.committed(changes, offset, checkpointRows(positions.records, foldVersions[k] ?? 1));
      } catch (error) {
        // Committed to Kafka but not stored: the store is behind the log, which the next restore reads (docs/state-stores.md "Safety").
        task.dirty = true;
        hooks.log.error({ err: error, partition: task.partition, changelog: writes[k]?.changelog }, 'committed, but the store write failed; restoring the partition from the changelog');
      }
    }
    for (const [id, { state, before, trace }] of changes) replaced.push(() => hooks.replaced(task, k, id, before, state, trace));
    parkedAfter(task, k, round, hooks);
  });
  for (const r of replaced) r();
}

function parkedAfter<S>(task: Task<S>, part: number, round: Round<S>, hooks: CommitHooks<S>): void {
  const slot = task.parts[part];
  if (slot === undefined) return;
  for (const [id, list] of round.parked) {
    if (list !== null) slot.parked.set(id, list);
    else if (slot.parked.delete(id)) hooks.unparked(task, part, id);
  }
}
