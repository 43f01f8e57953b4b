// The shape of every projection, and the pure fold that runs one through the
// in-memory store exactly as the Redis runtime will run it against Redis.
//
// A projection maps (state, event, metadata) to the next state and a list of
// declarative writes. Most read models need no state (`stateKey` returns null,
// state is `null`): each event becomes blind writes, so a batch costs one
// Redis round trip. A read model that must combine an event with what came
// before (an order document with its timeline; sales, which counts an order's
// amounts when OrderConfirmed arrives but learns them from OrderPlaced) keeps a
// per-aggregate JSON document under `stateKey`, reads it before the batch
// (one MGET) and writes it back with `setJson`/`del` among its ops.
//
// Contract with the runtime (and with `foldInto` below):
// * events of one aggregate arrive in version order; an event whose version is
//   not newer than the one recorded at `versionKey(keyspace, readModel,
//   aggregateId)` is skipped, ops and all (redelivery, replay, reset);
// * an applied event's ops and its new version are written atomically;
// * the state passed to `apply` is the document last written at `stateKey`
//   (or `initialState` when there is none), i.e. the state after the
//   aggregate's previous applied event. Within one batch the runtime threads
//   the state in memory from event to event instead of re-reading it.
import type { EventMetadata } from '../../../schemas/generated/types';
import { versionKey, type ReadModelName } from './keys';
import type { MemoryStore } from './memory-store';
import type { WriteOp } from './ops';

export interface ProjectionStep<State> {
  readonly state: State;
  readonly ops: readonly WriteOp[];
}

export interface Projection<Event extends { readonly type: string }, State> {
  readonly readModel: ReadModelName;
  /** Event types this projection reads; the runtime skips the rest by the event-type header, without decoding. */
  readonly handles: ReadonlySet<Event['type']>;
  /** Where the per-aggregate state document lives; null for projections that only write blind ops. */
  stateKey(keyspace: string, aggregateId: string): string | null;
  readonly initialState: State;
  apply(state: State, event: Event, metadata: EventMetadata, keyspace: string): ProjectionStep<State>;
}

/** An event as the projector receives it: payload plus envelope. */
export interface Envelope<Event> {
  readonly event: Event;
  readonly metadata: EventMetadata;
}

export interface FoldReport {
  readonly applied: number;
  readonly skipped: number;
  /** Events of types the projection does not handle (never reach the guard). */
  readonly ignored: number;
}

/**
 * Applies events to `store` through the version guard, one at a time, as the
 * runtime does per batch. Used by tests and by the independent verifier.
 */
export function foldInto<Event extends { readonly type: string }, State>(
  store: MemoryStore,
  projection: Projection<Event, State>,
  keyspace: string,
  envelopes: readonly Envelope<Event>[],
): FoldReport {
  let applied = 0;
  let skipped = 0;
  let ignored = 0;
  for (const { event, metadata } of envelopes) {
    if (!projection.handles.has(event.type)) {
      ignored += 1;
      continue;
    }
    const guard = versionKey(keyspace, projection.readModel, metadata.aggregateId);
    if (metadata.version <= store.version(guard)) {
      skipped += 1;
      continue;
    }
    const stateKey = projection.stateKey(keyspace, metadata.aggregateId);
    const stored = stateKey === null ? null : store.getJson(stateKey);
    // The document was written by this projection's own setJson op.
    const state = stored === null ? projection.initialState : (stored as State);
    const step = projection.apply(state, event, metadata, keyspace);
    if (store.applyGuarded(guard, metadata.version, step.ops) === 'applied') applied += 1;
    else skipped += 1;
  }
  return { applied, skipped, ignored };
}
