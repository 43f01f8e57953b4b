// The keyed state of one partition task, on disk (infra/state/state-store.ts):
// a cache of the task's changelog partition, of which only a bounded LRU is
// decoded in memory. Beside each state's bytes the store keeps its summary
// (status label and pending deadlines), so the runtime can count states by
// status and schedule every pending deadline on assignment without decoding
// (or even reading) the states themselves (docs/stateful-runtime.md "State").
import type { AvroCodec } from '../kafka/codec';
import type { Change, StateSummary } from '../state/changelog-restore';
import type { StateStore } from '../state/state-store';
import type { Deadline, StatefulDefinition } from './definition';
import type { TraceHeaders } from '../tracing/propagation';
import { resolvedDecoder } from './stamped-store';
import { CHECKPOINT_LABEL, checkpointRow, isCheckpointKey } from './position-store';

/** A state stamped with another fold version than this build's: never decided on (docs/state-stores.md "Fold versions"). */
export class StaleStateError extends Error {
  override readonly name = 'StaleStateError';
}

export { StaleFoldError, UnresolvedSchemaError, UNSTAMPED_FOLD_VERSION } from './stamped-store';

export const foldVersionOfDefinition = (definition: Pick<StatefulDefinition<unknown, unknown>, 'foldVersion'>): number => definition.foldVersion ?? 1;

export function summarize<S>(definition: Pick<StatefulDefinition<S, unknown>, 'status' | 'deadlines'>, state: S): StateSummary {
  const deadlines = definition.deadlines(state);
  return { label: definition.status(state), due: deadlines.length === 0 ? null : JSON.stringify(deadlines.map((d) => [d.name, d.dueAt])) };
}

/** The trace kept beside a state (JSON of its trace headers); undefined for none or for text that is not one. */
export function parseTrace(text: string | null): TraceHeaders | undefined {
  if (text === null) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const headers = Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
    return headers.traceparent === undefined ? undefined : headers;
  } catch {
    return undefined;
  }
}

export function parseDue(due: string): Deadline[] {
  return (JSON.parse(due) as Array<[string, number]>).map(([name, dueAt]) => ({ name, dueAt }));
}

/** The store's decoder of a definition's states (UnresolvedSchemaError for a writer schema not resolved yet). */
export function stateDecoder<S>(codec: AvroCodec, definition: Pick<StatefulDefinition<S, unknown>, 'fromStateRecord' | 'stateRecord'>): (bytes: Buffer, key: string) => S {
  return resolvedDecoder(codec, definition.stateRecord, 'state', (value) => definition.fromStateRecord(value));
}

/**
 * The store row of a restored changelog record (its fold version already
 * stamped, stamped-store.ts): each state is decoded once to keep its summary.
 */
export function stateRow<S>(codec: AvroCodec, definition: StatefulDefinition<S, unknown>): (change: Change) => Promise<Change> {
  const checkpoints = definition.positions === 'changelog';
  return async (change) => {
    // Positions in the changelog (position-store.ts): a checkpoint is kept, labelled apart, not decoded as a state.
    if (checkpoints && isCheckpointKey(change.key)) return change.value === null ? change : checkpointRow(change);
    if (change.value === null) return change;
    const { summaryOfFields } = definition;
    if (summaryOfFields !== undefined) {
      // Only the fields the summary needs are decoded; the rest is skipped.
      const projected = await codec.decodeFields(change.value, summaryOfFields.fields);
      if (projected.fullName !== definition.stateRecord) throw new Error(`changelog record ${change.key} holds a ${projected.fullName}, not a ${definition.stateRecord}`);
      let summary: StateSummary = { label: null, due: null };
      try {
        summary = summaryOfFields.summary(projected.value as Readonly<Record<string, unknown>>);
      } catch {
        // As below: stored without a summary.
      }
      return { ...change, summary };
    }
    const decoded = await codec.decode(change.value);
    if (decoded.fullName !== definition.stateRecord) throw new Error(`changelog record ${change.key} holds a ${decoded.fullName}, not a ${definition.stateRecord}`);
    // A state of another fold version is stored as it is (never decided on); its summary is still this build's reading of it.
    let summary: StateSummary = { label: null, due: null };
    try {
      summary = summarize(definition, definition.fromStateRecord(decoded.value));
    } catch {
      // Not readable by this build: stored without a summary; deciding on it is refused by its stamp or its decode.
    }
    return { ...change, summary };
  };
}

export class PartitionState<S> {
  /** States stored. */
  size: number;
  /** States by status label. */
  readonly labels: Map<string, number>;
  /** Deadlines in the stored states. */
  pendingDeadlines = 0;

  constructor(
    readonly store: StateStore<S>,
    private readonly definition: StatefulDefinition<S, unknown>,
  ) {
    this.labels = store.labelCounts();
    // Checkpoint rows (positions in the changelog, position-store.ts) are positions, not states.
    this.size = store.size() - (this.labels.get(CHECKPOINT_LABEL) ?? 0);
    this.labels.delete(CHECKPOINT_LABEL);
  }

  /** The state of a key as last committed; undefined for none. Throws on a stale one. */
  get(id: string): S | undefined {
    const found = this.store.get(id);
    if (found.kind === 'absent') return undefined;
    if (found.kind === 'found') return found.state;
    throw new StaleStateError(
      `${this.definition.name}: the state of ${id} was folded by fold version ${found.foldVersion}, this build's is ${foldVersionOfDefinition(this.definition)}; it is not decided on (docs/state-stores.md "Fold versions")`,
    );
  }

  /**
   * Every pending deadline of the stored states (read through the store's
   * index of states that have some), with the trace of the step that set them.
   */
  *pending(): Generator<{ readonly id: string; readonly deadlines: readonly Deadline[]; readonly trace: TraceHeaders | undefined }> {
    for (const { key, due, trace } of this.store.withDue()) yield { id: key, deadlines: parseDue(due), trace: parseTrace(trace) };
  }

  /**
   * After a commit: the changed states and the changelog offset after the
   * transaction's records go into the store together, with the round's
   * checkpoint rows when positions are in the changelog. `before` is each
   * key's state before the round (for the counts).
   */
  committed(changes: ReadonlyMap<string, { readonly state: S; readonly value: Buffer; readonly before: S | undefined; readonly trace: TraceHeaders }>, offset: number, checkpoints: readonly Change[] = []): void {
    const foldVersion = foldVersionOfDefinition(this.definition);
    const rows: Change[] = [...checkpoints];
    const decoded = new Map<string, S>();
    for (const [key, { state, value, before, trace }] of changes) {
      rows.push({ key, value, foldVersion, summary: summarize(this.definition, state), trace: trace.traceparent === undefined ? null : JSON.stringify(trace) });
      decoded.set(key, state);
      if (before === undefined) this.size += 1;
      else this.bump(this.definition.status(before), -1);
      this.bump(this.definition.status(state), 1);
      this.pendingDeadlines += this.definition.deadlines(state).length - (before === undefined ? 0 : this.definition.deadlines(before).length);
    }
    this.store.apply(rows, offset, decoded);
  }

  close(): void {
    this.store.close();
  }

  private bump(label: string, by: number): void {
    this.labels.set(label, (this.labels.get(label) ?? 0) + by);
  }
}
