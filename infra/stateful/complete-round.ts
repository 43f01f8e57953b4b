// Completing a round with the offsets of its sequenced records (docs/stateful-runtime.md
// "Sequenced outputs"), once they are known (predicted or learned, emit-offsets.ts):
// in decision order, each decision's `completeState` patches its process's state as
// the round leaves it, and its `after` makes the records that carry the offsets,
// given that state completed so far. Pure: the round is not changed, so a missed
// guess completes again from the same round with the offsets learned.
import type { Message } from 'kafkajs';
import type { TraceHeaders } from '../tracing/propagation';
import type { EmittedOffset, Outgoing } from './definition';

/** A decision's completion: what waits for the offsets of its sequenced records. */
export interface Late<S = unknown> {
  /** The process the decision was for. */
  readonly processId: string;
  /** The state the decision returned (the process's state when the round has none for it). */
  readonly state: S;
  readonly after?: (offsets: readonly EmittedOffset[], state: S) => readonly Outgoing[];
  readonly complete?: (state: S, offsets: readonly EmittedOffset[]) => S;
  /** Encodes a completed state as the round encodes the states it changed. */
  readonly encodeState: (state: S) => Promise<Buffer>;
  readonly trace: TraceHeaders;
  /** The decision's emitted messages in sequenced topics, in emit order (the same objects as in the round's `emit`). */
  readonly refs: ReadonlyArray<{ readonly message: Message; readonly topic: string; readonly physical: string; readonly id: string }>;
}

export interface Completed<S> {
  /** Processes whose state a decision completed: the state to write and store. */
  readonly states: ReadonlyMap<string, S>;
  /** The late records, in decision order, with the trace of the decision that made each. */
  readonly records: ReadonlyArray<{ readonly out: Outgoing; readonly trace: TraceHeaders }>;
}

/**
 * Completes the round's late decisions. `offsetOf` says where a sequenced message
 * lands; `stateOf` is the process's state as the round leaves it.
 */
export function completeRound<S>(
  late: ReadonlyArray<Late<S>>,
  partition: number,
  offsetOf: (physical: string, message: Message) => number,
  stateOf: (processId: string) => S | undefined,
): Completed<S> {
  const states = new Map<string, S>();
  const records: Array<{ readonly out: Outgoing; readonly trace: TraceHeaders }> = [];
  for (const l of late) {
    const offsets: EmittedOffset[] = l.refs.map(({ message, topic, physical, id }) => ({ topic, partition, offset: offsetOf(physical, message), id }));
    let state = states.get(l.processId) ?? stateOf(l.processId) ?? l.state;
    if (l.complete !== undefined) {
      state = l.complete(state, offsets);
      states.set(l.processId, state);
    }
    if (l.after !== undefined) for (const out of l.after(offsets, state)) records.push({ out, trace: l.trace });
  }
  return { states, records };
}
