// What the stateful runtime (runtime.ts, docs/stateful-runtime.md) needs to
// know about one kind of stateful consumer: where its inputs come from, how a
// decoded record becomes an input, the pure decision, how its state is stored
// (and which version of the fold made it), and its deadlines. The process
// managers are definitions on it: order fulfilment (orchestration, with
// deadlines and compensation), the loyalty policy (choreography) and the
// payment provider's simulator (answers scheduled as deadlines).
//
// A definition holds no Kafka code: it turns a decoded record into a domain
// input, calls the pure core, and describes each emitted message completely
// (topic, key, record, headers, id); the runtime only encodes and produces.
import type { EventMetadata } from '../../schemas/generated/types';
import type { DecodedRecord } from '../consuming/batch-sink';
import type { Outgoing } from './outgoing';
import type { ParkingSpec } from './parking';
import type { CheckpointKeys, PositionsMode } from './position-store';

export { eventMessage, type Outgoing } from './outgoing';

/** A consumed record as a definition sees it (decoded by the consumer machinery). */
export type { DecodedRecord };

/** A pending timer of a process: fired by the runtime's scheduler as an input of its own. */
export interface Deadline {
  readonly name: string;
  readonly dueAt: number;
}

/** Where a record a decision emitted to a `sequenced` topic landed (catalog topic). */
export interface EmittedOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** The Outgoing's id. */
  readonly id: string;
}

export interface Decision<S> {
  readonly emit: readonly Outgoing[];
  readonly state: S;
  /** False when the input changed nothing (a replay, a duplicate, an irrelevant input): no state is written for it, only what `emit` holds (usually nothing; an answer that persists nothing). */
  readonly changed: boolean;
  /**
   * Records whose content depends on where this decision's records in the
   * definition's `sequenced` topics land (e.g. a reply carrying its events'
   * offsets): called with those offsets, in emit order, within the round's
   * transaction (docs/stateful-runtime.md "Sequenced outputs"). `state` is
   * the process's state as the round writes it, completed (`completeState`)
   * with the offsets of this decision and of those before it in the round:
   * a duplicate of an input decided earlier in the same round answers from it
   * with that input's offsets. Pure.
   */
  readonly after?: (offsets: readonly EmittedOffset[], state: S) => readonly Outgoing[];
  /**
   * A state whose content depends on where this decision's sequenced records
   * land (e.g. a remembered reply carrying its events' offsets): called with
   * those offsets, within the round's transaction, before the state is
   * encoded into the changelog; the store gets its result after the commit.
   * It is given the process's state as the round leaves it (later decisions
   * of the round on the same process included), not `state`: it must patch
   * (replace the remembered reply by its id), as the command processor's
   * `withReply` does. Later decisions of the round see `state` as decided,
   * not completed (docs/stateful-runtime.md "Sequenced outputs"). Pure.
   */
  readonly completeState?: (state: S, offsets: readonly EmittedOffset[]) => S;
}

/**
 * Why a partition of a definition is refused for its states' fold version
 * (docs/stateful-runtime.md "Fold versions"): the store on disk was made by
 * another fold (`stored`), or the changelog holds `count` states folded by
 * others (`versions`).
 */
export type FoldRefusal = {
  /** The physical changelog topic and partition refused. */
  readonly changelog: string;
  readonly partition: number;
  /** This build's fold version (the definition's). */
  readonly foldVersion: number;
  /** The runtime's consumer group, whose instances must be stopped. */
  readonly groupId: string;
} & ({ readonly kind: 'store'; readonly stored: number } | { readonly kind: 'records'; readonly count: number; readonly versions: readonly number[] });

export interface StatefulDefinition<S, I> {
  /** The definition's name, for logs and stats. */
  readonly name: string;
  /**
   * The version of the fold (`decide`'s state and `fromStateRecord`) that
   * stored states were made with; default 1. Raise it whenever a change to the
   * fold changes what a stored state means: states stamped with another
   * version are never decided on (docs/state-stores.md "Fold versions").
   */
  readonly foldVersion?: number;
  /**
   * The text of a fold-version refusal (why, and what the operator does);
   * default: the runtime's, which advises `npm run states:migrate -- <name>`
   * (load.ts). The command definition gives the processor's, which advises
   * `npm run snapshots:rebuild -- <aggregate>` (docs/command-side.md "Fold versions").
   */
  readonly foldRefusal?: (why: FoldRefusal) => string;
  /**
   * The name of the span that decides a record of type `type`; default
   * `<name> step <type>`. The command definition gives
   * `command-processor decide <type>` (docs/tracing.md).
   */
  readonly stepSpanName?: (type: string) => string;
  readonly groupId: string;
  /** Catalog topics consumed; they must share a partition count and be keyed by the process id. */
  readonly inputs: readonly string[];
  /** Record types (short names) routed in; everything else is skipped by its `event-type` header (see `unhandled`). */
  readonly handles: ReadonlySet<string>;
  /**
   * A record on an input topic of a type not in `handles` (a tombstone
   * aside): 'skip' (default; the process managers read shared event topics)
   * or 'dead-letter' (reason `unknown-record`; with `parking` it parks the
   * process its key names), as the command processor treats what is no
   * command on its commands topic (docs/stateful-runtime.md "Parking").
   */
  readonly unhandled?: 'skip' | 'dead-letter';
  /** Avro full name of the state record on the changelog. */
  readonly stateRecord: string;
  /**
   * Turns a partition batch's records into inputs, in order (null: not an
   * input). May look things up (e.g. placement facts); `stateOf` tells which
   * processes exist already, so a replay need not look anything up.
   */
  inputsFor(records: readonly DecodedRecord[], stateOf: (processId: string) => S | undefined): Promise<ReadonlyArray<I | null>>;
  processId(input: I): string;
  initialState(processId: string): S;
  /** Checks a state read back from the changelog; throws on one this build cannot use. */
  fromStateRecord(record: unknown): S;
  /**
   * Present: what a state folded by an earlier fold version (`fromVersion`)
   * means to this build's fold, given its record as it was written.
   * `npm run states:migrate` rewrites the changelog with it
   * (migrate-states.ts, docs/state-stores.md "Fold versions"); absent, states
   * of another fold version are refused and cannot be migrated.
   */
  migrate?(record: unknown, fromVersion: number): S;
  /** Pure and deterministic: the same input and state always give the same decision. */
  decide(input: I, state: S): Decision<S>;
  /** The state's pending deadlines (the state is the authority; the scheduler is only a timer). */
  deadlines(state: S): readonly Deadline[];
  /** The input that fires a deadline of the process. */
  deadlineInput(processId: string, deadline: Deadline): I;
  /** A short status for stats (instances by state). */
  status(state: S): string;
  /**
   * Optional, for restores: the state record's fields that `status` and
   * `deadlines` read, and the summary (status label, JSON of the deadlines,
   * as `summarize` gives them) from a record holding only those. A restore
   * then decodes only these fields of each state (codec `decodeFields`)
   * instead of the whole record (docs/state-stores.md "Restoring stores side
   * by side"). It must give what `status` and `deadlines` give on the whole
   * state.
   */
  readonly summaryOfFields?: { readonly fields: readonly string[]; summary(record: Readonly<Record<string, unknown>>): { readonly label: string | null; readonly due: string | null } };
  /** Failures and retries the state has recorded so far (stats count how they grow). */
  counters?(state: S): { readonly failures: number; readonly retries: number };
  /**
   * Present: a process whose input is dead-lettered is parked (its later
   * inputs recorded, not decided, until an operator redrives or skips), when
   * the runtime has a parked topic (docs/stateful-runtime.md "Parking").
   * Absent: the dead-lettered input is skipped and the process goes on.
   */
  readonly parking?: ParkingSpec<S>;
  /**
   * Where the task's input positions live (docs/stateful-runtime.md
   * "Positions"): 'group' (default), the group's offsets committed with
   * sendOffsets in each transaction; 'changelog', a checkpoint record per
   * input topic in the task's changelog partition, in the same transaction,
   * restored with the states (position-store.ts).
   */
  readonly positions?: PositionsMode;
  /**
   * With `positions: 'changelog'` and one input: 'group' keys that input's
   * checkpoint `@checkpoint/<group>`, as the command processor does, so the
   * processor and the definition resume at each other's positions; default
   * 'topic' (`@checkpoint/<group>/<topic>`, one per input topic).
   */
  readonly checkpointKey?: CheckpointKeys;
  /**
   * Catalog topics whose partition p only this definition's task p writes (its
   * events): the offsets of what it emits there are predicted and checked, so
   * `Decision.after` can complete records with them (docs/stateful-runtime.md
   * "Sequenced outputs").
   */
  readonly sequenced?: readonly string[];
  /** Resources of the definition's own (e.g. fact views), started before the consumer and stopped after it. */
  start?(): Promise<void>;
  stop?(): Promise<void>;
}

/** A decoded `{ metadata, ...payload }` record split into its envelope and payload. */
export function splitRecord<D>(record: DecodedRecord): { readonly metadata: EventMetadata; readonly data: D } {
  const { metadata, ...data } = record.value as { metadata: EventMetadata } & Record<string, unknown>;
  return { metadata, data: data as D };
}
