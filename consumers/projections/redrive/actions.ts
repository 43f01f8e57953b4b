// Operator actions on parked aggregates, each recorded on
// restaurant.dead-letter-actions (who, when, why, what came of it) after it is
// taken: a redrive of one aggregate, of every aggregate parked for a reason,
// or of all; a skip of one event (docs/read-side.md#redrive-and-skip).
import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import type { AvroCodec } from '../../../infra/kafka/codec';
import type { DeadLetterAction } from '../../../schemas/generated/types';
import { DEAD_LETTER_ACTION } from '../../../schemas/loader';
import { DEAD_LETTER_ACTIONS_TOPIC } from '../../../schemas/topics';
import { projectionGroupId } from '../runtime/read-models';
import { listParked, redriveAggregate, skipParked, type ParkedStore, type RedriveOutcome, type SkipOutcome } from './redrive';

export interface ActionContext {
  readonly store: ParkedStore;
  readonly codec: AvroCodec;
  /** Writes the action records (connected, idempotent). */
  readonly producer: Producer;
  readonly actor: string;
  readonly why: string;
  readonly clock?: () => number;
}

/** Which parked aggregates to redrive. */
export type RedriveSelection = { readonly aggregateId: string } | { readonly reason: string } | { readonly all: true };

export class ActionInputError extends Error {
  override readonly name = 'ActionInputError';
}

/** Writes one action record (acks=all), keyed by the aggregate. */
export async function recordAction(ctx: ActionContext, action: Omit<DeadLetterAction, 'actionId' | 'actor' | 'at' | 'why' | 'consumerGroup' | 'readModel' | 'keyspace'>): Promise<DeadLetterAction> {
  const { store } = ctx;
  const record: DeadLetterAction = {
    actionId: randomUUID(),
    actor: ctx.actor,
    at: (ctx.clock ?? Date.now)(),
    why: ctx.why,
    consumerGroup: projectionGroupId(store.spec.name, store.keyspace),
    readModel: store.spec.name,
    keyspace: store.keyspace,
    ...action,
  };
  const value = await ctx.codec.encode(DEAD_LETTER_ACTIONS_TOPIC, DEAD_LETTER_ACTION, record);
  await ctx.producer.send({ topic: DEAD_LETTER_ACTIONS_TOPIC, acks: -1, messages: [{ key: record.aggregateId, value, headers: { 'event-type': 'DeadLetterAction' } }] });
  return record;
}

/** Redrives the selected parked aggregates one by one (oldest parked first), recording each. */
export async function redrive(ctx: ActionContext, selection: RedriveSelection): Promise<RedriveOutcome[]> {
  let ids: string[];
  if ('aggregateId' in selection) ids = [selection.aggregateId];
  else {
    const parked = await listParked(ctx.store);
    ids = parked.filter((p) => 'all' in selection || p.reason === selection.reason).map((p) => p.aggregateId);
  }
  const outcomes: RedriveOutcome[] = [];
  for (const aggregateId of ids) {
    const outcome = await redriveAggregate(ctx.store, ctx.codec, aggregateId);
    await recordAction(ctx, { action: 'redrive', aggregateId, events: [...outcome.events], outcome: outcome.outcome, applied: outcome.applied, detail: outcome.error ?? null });
    outcomes.push(outcome);
  }
  return outcomes;
}

/** Skips one parked event of an aggregate (default its head) without applying it; a reason is required. */
export async function skip(ctx: ActionContext, aggregateId: string, position?: string): Promise<SkipOutcome> {
  if (ctx.why.trim() === '') throw new ActionInputError('a skip needs a reason (--why)');
  const outcome = await skipParked(ctx.store, aggregateId, position);
  await recordAction(ctx, { action: 'skip', aggregateId, events: [...outcome.events], outcome: outcome.outcome, applied: 0, detail: null });
  return outcome;
}
