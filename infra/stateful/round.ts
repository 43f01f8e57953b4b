// One round of a partition task (docs/stateful-runtime.md "Rounds"): every
// piece of work queued when the round starts is decided on top of the states
// the round has changed so far, and encoded; the runtime then writes it all in
// one transaction. Deciding has no side effect outside the round, so a piece
// that throws is handed back alone and the rest of the round goes on.
import type { Span } from '@opentelemetry/api';
import type { IHeaders, Message } from 'kafkajs';
import { traceHeadersOf, type TraceHeaders } from '../tracing/propagation';
import { endSpan, startStep } from '../tracing/spans';
import { partitionFor } from '../../schemas/partitioning';
import type { TopicCatalog } from '../../schemas/topics';
import type { DeadLetter } from '../consuming/dead-letters';
import { ProcessingError, type PartitionBatch } from '../consuming/batch-sink';
import { RegistryError, type AvroCodec } from '../kafka/codec';
import type { QueuedDeadline } from './deadline-queue';
import type { Deadline, Decision, Outgoing, StatefulDefinition } from './definition';
import { FOLD_VERSION_HEADER } from '../state/changelog-restore';
import { foldVersionOfDefinition } from './partition-state';
import { resolvingSchemas } from './stamped-store';
import { PARKING_REQUEST_TYPE, splitAtRequests, unhandledLetter } from './input-records';
import { decideRequest, parkBatch, parkingMessages, type ParkingContext, type ParkingPart } from './round-parking';
import type { ParkedInput } from './parking';
import { encodeOutgoing, type Late } from './emit-offsets';

export type Work =
  | { readonly kind: 'batch'; readonly batch: PartitionBatch }
  | { readonly kind: 'deadlines'; readonly due: readonly QueuedDeadline[] }
  | { readonly kind: 'flush' };

/**
 * The value of a changed state's record whose encoding waits for its late
 * completion (emit-offsets.ts encodes the completed state in the transaction).
 * Never written: the transaction and the store refuse it (assertEncoded).
 */
export const DEFERRED_STATE_VALUE: Buffer = Buffer.alloc(0);

/** The encoded value of a changed state's record; throws on one whose encoding waited and never came. */
export function assertEncoded(id: string, record: Message): Buffer {
  if (record.value === DEFERRED_STATE_VALUE || !Buffer.isBuffer(record.value)) throw new Error(`the state of ${id} was never encoded (its late completion did not run)`);
  return record.value;
}

/** A state whose encoding waits for its completion: checked against the schema now, its subject registered. */
async function deferredValue<S, I>(ctx: DecideContext<S, I>, state: S): Promise<Buffer> {
  await ctx.codec.schemaId(ctx.changelog.logical, ctx.definition.stateRecord);
  ctx.codec.validate(ctx.definition.stateRecord, state);
  return DEFERRED_STATE_VALUE;
}

export interface ChangedState<S> {
  readonly state: S;
  /** The changelog record (key = state key). */
  readonly record: Message;
  /** The trace context of the step that changed it (also in the record's headers): a deadline it sets fires in that trace. */
  readonly trace: TraceHeaders;
}

export interface Round<S> {
  /** Changed states: the new state and its changelog record. */
  readonly states: Map<string, ChangedState<S>>;
  /** Emitted messages, encoded, with their physical topic. */
  readonly emit: Array<{ readonly topic: string; readonly type: string; readonly message: Message }>;
  readonly dead: DeadLetter[];
  /** Parking (docs/stateful-runtime.md "Parking"): each changed process's parked inputs now (null: unparked). */
  readonly parked: Map<string, readonly ParkedInput[] | null>;
  /** Records for the parked topic and the actions topic, encoded. */
  readonly control: Array<{ readonly topic: string; readonly message: Message }>;
  readonly offsets: Map<string, number>;
  /** Records waiting for the offsets of sequenced ones (emit-offsets.ts). */
  readonly late: Array<Late<S>>;
  /** A span per input decided (docs/tracing.md), ended once the round's transaction is over. */
  readonly spans: Span[];
  /** Each changed state's state as last committed (undefined: none), read as it was decided: its store write needs it for the counts and deadlines. */
  readonly before: Map<string, S | undefined>;
  decided: number;
  changed: number;
  fired: number;
}

export const emptyRound = <S>(): Round<S> => ({ states: new Map(), emit: [], dead: [], parked: new Map(), control: [], offsets: new Map(), late: [], spans: [], before: new Map(), decided: 0, changed: 0, fired: 0 });

/** Adds a decided piece to the round. */
export function mergeInto<S>(round: Round<S>, part: Round<S>): void {
  for (const [id, state] of part.states) round.states.set(id, state);
  round.emit.push(...part.emit);
  round.dead.push(...part.dead);
  for (const [id, list] of part.parked) round.parked.set(id, list);
  round.control.push(...part.control);
  round.late.push(...part.late);
  round.spans.push(...part.spans);
  for (const [id, state] of part.before) if (!round.before.has(id)) round.before.set(id, state);
  for (const [topic, offset] of part.offsets) round.offsets.set(topic, Math.max(round.offsets.get(topic) ?? 0, offset));
  round.decided += part.decided;
  round.changed += part.changed;
  round.fired += part.fired;
}

export interface DecideContext<S, I> {
  readonly definition: StatefulDefinition<S, I>;
  readonly codec: AvroCodec;
  readonly catalog: TopicCatalog;
  readonly physical: (topic: string) => string;
  readonly changelog: { readonly logical: string; readonly physical: string; readonly partitions: number };
  /** Present when the definition parks and the runtime has a parked topic. */
  readonly parking?: ParkingContext;
}

export interface TaskView<S> {
  readonly partition: number;
  readonly epoch: number;
  readonly committed: ReadonlyMap<string, number>;
  /** The state as last committed (throws on a stale one). */
  stateOf(id: string): S | undefined;
  /** The process's parked inputs as last committed (undefined: not parked). */
  parkedOf(id: string): readonly ParkedInput[] | undefined;
}

/** Decides and encodes one piece of work on top of the round so far; throws without side effects. */
export async function decideWork<S, I>(ctx: DecideContext<S, I>, task: TaskView<S>, work: Work, round: Round<S>): Promise<Round<S>> {
  // A stored state whose writer schema is not resolved yet throws before anything is decided: resolve it, decide again.
  return resolvingSchemas(ctx.codec, () => decideOnce(ctx, task, work, round));
}

async function decideOnce<S, I>(ctx: DecideContext<S, I>, task: TaskView<S>, work: Work, round: Round<S>): Promise<Round<S>> {
  const part = emptyRound<S>();
  try {
    return await decideInto(ctx, task, work, round, part);
  } catch (error) {
    // Nothing of this piece goes on: its steps end here, failed with the reason.
    for (const span of part.spans) endSpan(span, error);
    throw error;
  }
}

async function decideInto<S, I>(ctx: DecideContext<S, I>, task: TaskView<S>, work: Work, round: Round<S>, part: Round<S>): Promise<Round<S>> {
  const { definition } = ctx;
  const changed = new Map<string, { readonly state: S; readonly trace: TraceHeaders }>();
  const emitted: Array<{ readonly out: Outgoing; readonly trace: TraceHeaders }> = [];
  const afters: Array<{ readonly id: string; readonly decision: Decision<S>; readonly outs: readonly Outgoing[]; readonly trace: TraceHeaders }> = [];
  const stateOf = (id: string): S | undefined => changed.get(id)?.state ?? round.states.get(id)?.state ?? task.stateOf(id);
  const parkedOf = (id: string): readonly ParkedInput[] | undefined => {
    for (const layer of [part.parked, round.parked]) if (layer.has(id)) return layer.get(id) ?? undefined;
    return task.parkedOf(id);
  };
  const parking: ParkingPart = { parkedOf, parked: part.parked, park: [], unpark: [], requests: [], answers: [] };
  /** Decides one input in a span of its own, a child of its cause's (a record's headers, or the step that set a deadline). */
  const apply = (input: I, where: string, spanName: string, cause: IHeaders | TraceHeaders | undefined): boolean => {
    const id = definition.processId(input);
    const inRound = changed.get(id)?.state ?? round.states.get(id)?.state;
    const committed = inRound === undefined ? task.stateOf(id) : undefined;
    const before = inRound ?? committed ?? definition.initialState(id);
    const span = startStep(spanName, cause, { 'restaurant.process.id': id, 'restaurant.process.input': where });
    part.spans.push(span);
    let decision;
    try {
      decision = definition.decide(input, before);
    } catch (cause) {
      throw new ProcessingError(`${definition.name} could not decide ${where} for ${id}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    part.decided += 1;
    if (span.isRecording()) span.setAttributes({ 'restaurant.process.changed': decision.changed, 'restaurant.process.status': definition.status(decision.state), 'restaurant.process.emitted': decision.emit.map((o) => o.type) });
    if (!decision.changed) {
      // Nothing to write, but an answer to give (the command processor's reply to a command refused for an aggregate that does not exist): emitted alone.
      for (const out of decision.emit) emitted.push({ out, trace: traceHeadersOf(span) });
      return false;
    }
    part.changed += 1;
    if (inRound === undefined && !part.before.has(id)) part.before.set(id, committed);
    const trace = traceHeadersOf(span);
    changed.set(id, { state: decision.state, trace });
    for (const out of decision.emit) emitted.push({ out, trace });
    if (decision.after !== undefined || decision.completeState !== undefined) {
      // Completed within the transaction (emit-offsets.ts): only a definition with sequenced topics has one that does.
      if ((definition.sequenced ?? []).length === 0) throw new ProcessingError(`${definition.name} completes records or states with offsets but names no sequenced topics`);
      afters.push({ id, decision, outs: decision.emit.filter((o) => definition.sequenced?.includes(o.topic) === true), trace });
    }
    return true;
  };
  switch (work.kind) {
    case 'batch': {
      const { batch } = work;
      // Below the committed offset: decided and committed already (perhaps by a previous owner after our consumer fetched).
      const floor = task.committed.get(batch.topic) ?? -1;
      if (batch.consumedUpTo <= floor) return part;
      let records = batch.records.filter((r) => r.offset >= floor);
      const letters = batch.deadLetters.filter((l) => l.offset >= floor);
      if (definition.unhandled === 'dead-letter' && batch.topic !== ctx.parking?.physical) {
        // Another part's type (the consumer routes in every part's), or a request it does not take here: dead-lettered.
        for (const r of records) if (!definition.handles.has(r.type) && !(ctx.parking?.spec.requestsOnInput === true && r.type === PARKING_REQUEST_TYPE)) letters.push(unhandledLetter(r, definition.name));
        letters.sort((a, b) => a.offset - b.offset);
      }
      part.dead.push(...letters);
      // Operators' requests: a redrive decides the parked inputs here, through `apply`, in this transaction.
      const undo = (): (() => void) => {
        const saved = new Map(changed);
        const marks = { emitted: emitted.length, decided: part.decided, changed: part.changed };
        return () => {
          changed.clear();
          for (const [k, v] of saved) changed.set(k, v);
          emitted.length = marks.emitted;
          part.decided = marks.decided;
          part.changed = marks.changed;
        };
      };
      if (ctx.parking !== undefined && batch.topic === ctx.parking.physical) {
        await decideRequest(ctx, records, parking, { stateOf, apply, undo });
        part.offsets.set(batch.topic, batch.consumedUpTo);
        break;
      }
      // The consumer routes in the types of every part: this part's alone are its inputs (the same set with one part),
      // and, with `requestsOnInput`, operators' requests on the input itself, decided in order between its inputs.
      const onInput = ctx.parking?.spec.requestsOnInput === true;
      records = records.filter((r) => definition.handles.has(r.type) || (onInput && r.type === PARKING_REQUEST_TYPE));
      for (const run of onInput ? splitAtRequests(records, letters) : [{ records, letters }]) {
        if ('request' in run) {
          await decideRequest(ctx, [run.request], parking, { stateOf, apply, undo }, { onInput: true });
          continue;
        }
        let live = run.records;
        if (ctx.parking !== undefined) {
          const answered = parking.answers.length;
          live = parkBatch(ctx.parking, live, run.letters, parking, stateOf);
          // Inputs refused because their process is parked: their clients are answered now (ParkingSpec.refuseBehind).
          for (const out of parking.answers.slice(answered)) emitted.push({ out, trace: {} });
        }
        const inputs = await definition.inputsFor(live, stateOf);
        inputs.forEach((input, i) => {
          const r = live[i];
          if (input !== null && r !== undefined) apply(input, `${r.type} at ${r.topic}/${r.partition}@${r.offset}`, definition.stepSpanName?.(r.type) ?? `${definition.name} step ${r.type}`, r.headers);
        });
      }
      part.offsets.set(batch.topic, batch.consumedUpTo);
      break;
    }
    case 'deadlines':
      for (const entry of work.due) {
        if (entry.epoch !== task.epoch) continue; // queued before a restore, which queued it again
        // A parked process stops at its last good state: its deadlines wait for the redrive (scheduled again then).
        if (parkedOf(entry.processId) !== undefined) continue;
        const state = stateOf(entry.processId);
        // Checked again: the round may have changed the process since the deadline came due.
        if (state === undefined || !definition.deadlines(state).some((d) => d.name === entry.name && d.dueAt === entry.dueAt)) continue;
        const deadline: Deadline = { name: entry.name, dueAt: entry.dueAt };
        if (apply(definition.deadlineInput(entry.processId, deadline), `deadline ${entry.name}@${entry.dueAt}`, `${definition.name} deadline`, entry.trace)) part.fired += 1;
      }
      break;
    case 'flush':
      break;
  }
  const foldVersion = String(foldVersionOfDefinition(definition));
  // Encoded here, so a decision whose output its schema refuses is that input's fault (dead-lettered), not the round's.
  try {
    const messageOf = new Map<Outgoing, Message>();
    for (const { out: o, trace } of emitted) {
      const encoded = await encodeOutgoing(ctx, o, trace);
      // Sequenced topics (emit-offsets.ts): the task predicts offsets only in the partition it alone writes, its own.
      if (definition.sequenced?.includes(o.topic) === true && encoded.message.partition !== task.partition) {
        throw new Error(`${o.type} ${o.id} goes to ${o.topic} partition ${String(encoded.message.partition)}, but this task writes only partition ${task.partition} of its sequenced topics`);
      }
      messageOf.set(o, encoded.message);
      part.emit.push(encoded);
    }
    const encodeState = (state: S): Promise<Buffer> => ctx.codec.encode(ctx.changelog.logical, definition.stateRecord, state);
    for (const { id, decision, outs, trace } of afters) {
      const refs = outs.map((o) => ({ message: messageOf.get(o) as Message, topic: o.topic, physical: ctx.physical(o.topic), id: o.id }));
      part.late.push({ processId: id, state: decision.state, after: decision.after, complete: decision.completeState, encodeState, trace, refs });
    }
    // A state a late decision completes (emit-offsets.ts) is encoded once, completed, in the transaction: encoding it here too was wasted (its
    // record's value waits). It is still checked against the schema here (and its subject registered), so a state the schema refuses is this input's fault.
    const completed = new Set(afters.filter((a) => a.decision.completeState !== undefined).map((a) => a.id));
    for (const [id, { state, trace }] of changed) {
      const partition = partitionFor(id, ctx.changelog.partitions);
      if (partition !== task.partition) throw new Error(`${id} belongs to partition ${partition}, not ${task.partition}: its inputs are not keyed by its id`);
      const value = completed.has(id) ? await deferredValue(ctx, state) : await ctx.codec.encode(ctx.changelog.logical, definition.stateRecord, state);
      // Stamped with the fold that made it: a build with another fold never decides on it (docs/state-stores.md "Fold versions").
      part.states.set(id, { state, trace, record: { key: id, value, partition, headers: { ...trace, [FOLD_VERSION_HEADER]: foldVersion } } });
    }
    if (ctx.parking !== undefined) part.control.push(...(await parkingMessages(ctx, ctx.parking, parking)));
  } catch (cause) {
    if (cause instanceof RegistryError && cause.retriable) throw cause;
    throw new ProcessingError(`${definition.name} could not encode what it decided: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  return part;
}
