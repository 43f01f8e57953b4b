// An aggregate as the command processor's definition on the stateful runtime
// holds it (command-definition.ts): the processor's entry (version, state,
// the last 64 replies) with the fields of its snapshot record spread beside
// it. The runtime encodes a state with the definition's state record, which is
// the aggregate's snapshot record, so the state encodes to exactly the record
// the processor writes (Avro reads only the record's fields; `state` is
// none of them), and the entry needs no mapping back on the next command.
import type { AggregateRuntime } from './aggregates';
import { emptyEntry, type AggregateEntry } from './handle';
import { entryOfSnapshot, snapshotValue } from './command-records';

export type CommandState = AggregateEntry & Readonly<Record<string, unknown>>;

/** The entry with its snapshot record's fields beside it (none for an aggregate with nothing to persist). */
export function commandState(runtime: AggregateRuntime, aggregateId: string, entry: AggregateEntry): CommandState {
  const snapshot = snapshotValue(runtime, aggregateId, entry) ?? {};
  return { ...snapshot, version: entry.version, state: entry.state, recentCommands: entry.recentCommands };
}

/** The state a snapshot record read back from the snapshots topic holds (the record's fields kept beside the entry). */
export function stateOfSnapshot(runtime: AggregateRuntime, snapshot: unknown): CommandState {
  return { ...(snapshot as Record<string, unknown>), ...entryOfSnapshot(runtime, snapshot) };
}

/** An aggregate that does not exist yet. */
export const initialCommandState = (runtime: AggregateRuntime): CommandState => ({ ...emptyEntry(runtime) });
