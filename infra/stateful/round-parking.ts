// Parking within a round (docs/stateful-runtime.md "Parking"; the records are
// parking.ts): a batch's dead letters park their processes, later inputs of a
// parked process are parked behind them instead of decided, and an operator's
// request redrives a process (its parked inputs decoded with the current
// decoder and decided in order, in this round's transaction) or skips one of
// its inputs. Everything written here (parked inputs, their tombstones, the
// recorded action) commits with the round, together with the consumed offsets
// of the inputs and of the request: exactly once.
import type { IHeaders, Message } from 'kafkajs';
import type { DeadLetterAction } from '../../schemas/generated/types';
import { DEAD_LETTER_ACTIONS_TOPIC, type TopicCatalog } from '../../schemas/topics';
import { DEAD_LETTER_ACTION, PARKED_INPUT } from '../../schemas/loader';
import { partitionFor } from '../../schemas/partitioning';
import type { DeadLetter } from '../consuming/dead-letters';
import type { DecodedRecord } from '../consuming/batch-sink';
import { RegistryError, type AvroCodec } from '../kafka/codec';
import type { Outgoing, StatefulDefinition } from './definition';
import {
  beforeHead,
  parkedKeyOf,
  parkedOfLetter,
  parkedOfRecord,
  positionOf,
  processIdOf,
  summaryOf,
  requestFromRecord,
  requestKeyOf,
  type ParkedInput,
  type ParkingOutcome,
  type ParkingRequest,
  type ParkingSpec,
} from './parking';

export interface ParkingContext {
  readonly spec: ParkingSpec;
  /** The catalog name of the parked topic (its subjects) and the physical one. */
  readonly logical: string;
  readonly physical: string;
  readonly partitions: number;
  /** The actions topic (restaurant.dead-letter-actions): catalog name, physical name, partitions. */
  readonly actions: { readonly logical: string; readonly physical: string; readonly partitions: number };
  readonly groupId: string;
  readonly clock: () => number;
}

/** The parking context of a runtime: undefined unless the definition parks and the runtime has a parked topic (catalog name). */
export function parkingContextOf(
  definition: Pick<StatefulDefinition<unknown, unknown>, 'name' | 'parking'>,
  parkedTopic: string | undefined,
  where: { readonly catalog: TopicCatalog; readonly physical: (topic: string) => string; readonly changelogPartitions: number; readonly groupId: string; readonly clock: () => number },
): ParkingContext | undefined {
  if (definition.parking === undefined || parkedTopic === undefined) return undefined;
  const parked = where.catalog.topic(parkedTopic);
  if (parked.partitions !== where.changelogPartitions) throw new Error(`${definition.name}: the parked topic must share the changelog's partition count`);
  const actions = where.catalog.topic(DEAD_LETTER_ACTIONS_TOPIC);
  return {
    spec: definition.parking,
    logical: parked.name,
    physical: where.physical(parked.name),
    partitions: parked.partitions,
    actions: { logical: actions.name, physical: where.physical(actions.name), partitions: actions.partitions },
    groupId: where.groupId,
    clock: where.clock,
  };
}

/** What one piece of work does about parking. */
export interface ParkingPart {
  /** The parked inputs of a process as this piece sees them (its own changes over the round's over the task's). */
  parkedOf(id: string): readonly ParkedInput[] | undefined;
  /** This piece's changes: the process's parked inputs now, null when unparked. */
  readonly parked: Map<string, readonly ParkedInput[] | null>;
  /** Inputs to record on the parked topic, and those to end (tombstones). */
  readonly park: ParkedInput[];
  readonly unpark: ParkedInput[];
  /** `onInput`: read on an input topic (`requestsOnInput`), so no tombstone on the parked topic. */
  readonly requests: Array<{ readonly request: ParkingRequest; readonly outcome: ParkingOutcome; readonly onInput?: boolean }>;
  /** What refused inputs are answered with (`ParkingSpec.refuseBehind`), emitted with the round. */
  readonly answers: Outgoing[];
}

const samePosition = (a: ParkedInput, b: { readonly topic: string; readonly partition: number; readonly offset: number }): boolean => a.topic === b.topic && a.partition === b.partition && a.offset === b.offset;

function add(parking: ParkingPart, id: string, input: ParkedInput, list: readonly ParkedInput[]): void {
  parking.parked.set(id, [...list, input]);
  parking.park.push(input);
}

/**
 * Parks what must be parked of a batch and returns the records to decide: a
 * dead letter whose key names a process parks it (the first one is the head),
 * a record of a parked process read after its head is parked behind it (or,
 * with `refuseBehind`, answered and dropped, given the process's state by `stateOf`).
 * Inputs parked already (a batch given again after a failed transaction) are
 * neither parked twice nor decided.
 */
export function parkBatch(ctx: ParkingContext, records: readonly DecodedRecord[], letters: readonly DeadLetter[], parking: ParkingPart, stateOf?: (processId: string) => unknown): DecodedRecord[] {
  const now = ctx.clock();
  for (const letter of [...letters].sort((a, b) => a.offset - b.offset)) {
    const id = letter.topic === ctx.physical ? undefined : processIdOf(ctx.spec, letter.key);
    if (id === undefined) continue; // no process to park: in the DLQ only
    const list = parking.parkedOf(id) ?? [];
    if (list.some((p) => samePosition(p, letter))) continue;
    add(parking, id, parkedOfLetter(id, letter, list[0], now), list);
  }
  const live: DecodedRecord[] = [];
  for (const record of records) {
    const id = processIdOf(ctx.spec, record.key);
    const list = id === undefined ? undefined : parking.parkedOf(id);
    const head = list?.[0];
    if (id === undefined || list === undefined || head === undefined || beforeHead(head, record)) {
      live.push(record);
      continue;
    }
    if (list.some((p) => samePosition(p, record))) continue;
    const summary = ctx.spec.refuseBehind === undefined ? undefined : summaryOf(list);
    if (ctx.spec.refuseBehind !== undefined && summary !== undefined) parking.answers.push(...ctx.spec.refuseBehind(record, summary, stateOf?.(id)));
    else add(parking, id, parkedOfRecord(id, record, head, now), list);
  }
  return live;
}

export interface RequestOps<S, I> {
  stateOf(id: string): S | undefined;
  /** Decides one input on top of the piece (throws a ProcessingError when the decision throws). */
  apply(input: I, where: string, step: string, cause: IHeaders | undefined): boolean;
  /** Marks the piece's decisions so far; the function returned takes back everything decided after the mark. */
  undo(): () => void;
}

/** Decides the operators' requests among `records` (the parked topic's), in order. */
export async function decideRequest<S, I>(
  ctx: { readonly definition: StatefulDefinition<S, I>; readonly codec: AvroCodec },
  records: readonly DecodedRecord[],
  parking: ParkingPart,
  ops: RequestOps<S, I>,
  where: { readonly onInput?: boolean } = {},
): Promise<void> {
  for (const record of records) {
    if (record.type !== 'ParkingRequest') continue;
    let request: ParkingRequest;
    try {
      request = requestFromRecord(record.value);
    } catch {
      continue; // not a request this build understands: nothing to do, nothing recorded
    }
    const outcome = request.action === 'redrive' ? await redrive(ctx, request.processId, parking, ops) : skip(request, parking);
    parking.requests.push({ request, outcome, ...(where.onInput === true ? { onInput: true } : {}) });
  }
}

async function redrive<S, I>(ctx: { readonly definition: StatefulDefinition<S, I>; readonly codec: AvroCodec }, id: string, parking: ParkingPart, ops: RequestOps<S, I>): Promise<ParkingOutcome> {
  const list = parking.parkedOf(id);
  if (list === undefined || list.length === 0) return { outcome: 'not-parked', events: [], applied: 0 };
  const events = list.map(positionOf);
  const rollback = ops.undo();
  let applied = 0;
  try {
    for (const p of list) {
      // The current decoder: an input undecodable when it was parked may decode now (a schema registered since).
      const decoded = await ctx.codec.decode(p.value);
      const type = decoded.fullName.slice(decoded.fullName.lastIndexOf('.') + 1);
      if (ctx.definition.handles.has(type)) {
        const record: DecodedRecord = { topic: p.topic, partition: p.partition, offset: p.offset, key: p.key, rawValue: p.value, headers: p.headers, type, fullName: decoded.fullName, value: decoded.value };
        const inputs = await ctx.definition.inputsFor([record], ops.stateOf);
        for (const input of inputs) if (input !== null) ops.apply(input, `redrive of ${type} at ${positionOf(p)}`, `redrive ${type}`, p.headers);
      } else if (ctx.definition.unhandled === 'dead-letter') {
        throw new Error(`${decoded.fullName} is not handled by ${ctx.definition.name}`); // still no input: the redrive fails, as the processor's
      }
      applied += 1;
    }
  } catch (error) {
    // The registry unreachable is nobody's fault: the round is tried again.
    if (error instanceof RegistryError && error.retriable) throw error;
    rollback();
    return { outcome: 'failed', events, applied: 0, error: error instanceof Error ? error.message : String(error) };
  }
  parking.parked.set(id, null);
  parking.unpark.push(...list);
  return { outcome: 'redriven', events, applied };
}

/** Drops the request's parked input (default the head) from the piece; the process is unparked when none is left. */
export function skip(request: ParkingRequest, parking: ParkingPart): ParkingOutcome {
  const list = parking.parkedOf(request.processId) ?? [];
  const target = request.position === null ? list[0] : list.find((p) => positionOf(p) === request.position);
  if (target === undefined) return { outcome: 'not-parked', events: [], applied: 0 };
  const rest = list.filter((p) => p !== target);
  parking.parked.set(request.processId, rest.length > 0 ? rest : null);
  parking.unpark.push(target);
  return { outcome: 'skipped', events: [positionOf(target)], applied: 0 };
}

/** The records a piece writes about parking: parked inputs, their tombstones, the requests' tombstones and the actions recorded. */
export async function parkingMessages<S, I>(
  ctx: { readonly definition: Pick<StatefulDefinition<S, I>, 'name'>; readonly codec: AvroCodec },
  pctx: ParkingContext,
  parking: ParkingPart,
): Promise<Array<{ readonly topic: string; readonly message: Message }>> {
  const out = await parkedInputMessages(ctx.codec, pctx, parking);
  for (const { request, outcome, onInput } of parking.requests) {
    if (onInput !== true) out.push({ topic: pctx.physical, message: { key: requestKeyOf(request.requestId), value: null, partition: partitionFor(request.processId, pctx.partitions), headers: { 'event-type': 'ParkingRequest' } } });
    out.push(await actionMessage(ctx.codec, pctx, ctx.definition.name, request, outcome));
  }
  return out;
}

/** The parked inputs a piece records on the parked topic, and the tombstones of those it ends. */
export async function parkedInputMessages(codec: AvroCodec, pctx: ParkingContext, parking: Pick<ParkingPart, 'park' | 'unpark'>): Promise<Array<{ readonly topic: string; readonly message: Message }>> {
  const out: Array<{ readonly topic: string; readonly message: Message }> = [];
  const partitionOf = (id: string): number => partitionFor(id, pctx.partitions);
  const headers = { 'event-type': 'ParkedInput' };
  for (const p of parking.park) {
    const value = await codec.encode(pctx.logical, PARKED_INPUT, { ...p, headers: { ...p.headers } });
    out.push({ topic: pctx.physical, message: { key: parkedKeyOf(p), value, partition: partitionOf(p.processId), headers } });
  }
  for (const p of parking.unpark) out.push({ topic: pctx.physical, message: { key: parkedKeyOf(p), value: null, partition: partitionOf(p.processId), headers } });
  return out;
}

/** The DeadLetterAction recording what came of a request (actionId = request id), keyed by the process on the actions topic. */
export async function actionMessage(codec: AvroCodec, pctx: ParkingContext, name: string, request: ParkingRequest, outcome: ParkingOutcome): Promise<{ readonly topic: string; readonly message: Message }> {
  const action: DeadLetterAction = {
    actionId: request.requestId,
    action: request.action,
    actor: request.actor,
    at: pctx.clock(),
    why: request.why,
    consumerGroup: pctx.groupId,
    readModel: name,
    keyspace: '',
    aggregateId: request.processId,
    events: [...outcome.events],
    outcome: outcome.outcome,
    applied: outcome.applied,
    detail: outcome.error ?? null,
  };
  const value = await codec.encode(pctx.actions.logical, DEAD_LETTER_ACTION, action);
  return { topic: pctx.actions.physical, message: { key: request.processId, value, partition: partitionFor(request.processId, pctx.actions.partitions), headers: { 'event-type': 'DeadLetterAction' } } };
}
