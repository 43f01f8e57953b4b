// One round of a partition task (docs/stateful-runtime.md "Rounds"): every
// piece of work queued when the round starts is decided on top of the states
// the round has changed so far, and encoded; the runtime then writes it all in
// one transaction. Deciding has no side effect outside the round, so a piece
// that throws is handed back alone and the rest of the round goes on.
import type { IHeaders, Message } from 'kafkajs';
import { partitionFor } from '../../schemas/partitioning';
import type { TopicCatalog } from '../../schemas/topics';
import type { DeadLetter } from '../consuming/dead-letters';
import { ProcessingError, type PartitionBatch } from '../consuming/event-consumer';
import { RegistryError, type AvroCodec } from '../kafka/codec';
import type { QueuedDeadline } from './deadline-queue';
import type { Deadline, Outgoing, StatefulDefinition } from './definition';
import { FOLD_VERSION_HEADER } from '../state/changelog-restore';
import { foldVersionOfDefinition, UnresolvedSchemaError } from './partition-state';

export type Work =
  | { readonly kind: 'batch'; readonly batch: PartitionBatch }
  | { readonly kind: 'deadlines'; readonly due: readonly QueuedDeadline[] }
  | { readonly kind: 'flush' };

export interface ChangedState<S> {
  readonly state: S;
  /** The changelog record (key = state key). */
  readonly record: Message;
}

export interface Round<S> {
  /** Changed states: the new state and its changelog record. */
  readonly states: Map<string, ChangedState<S>>;
  /** Emitted messages, encoded, with their physical topic. */
  readonly emit: Array<{ readonly topic: string; readonly type: string; readonly message: Message }>;
  readonly dead: DeadLetter[];
  readonly offsets: Map<string, number>;
  decided: number;
  changed: number;
  fired: number;
}

export const emptyRound = <S>(): Round<S> => ({ states: new Map(), emit: [], dead: [], offsets: new Map(), decided: 0, changed: 0, fired: 0 });

/** Adds a decided piece to the round. */
export function mergeInto<S>(round: Round<S>, part: Round<S>): void {
  for (const [id, state] of part.states) round.states.set(id, state);
  round.emit.push(...part.emit);
  round.dead.push(...part.dead);
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
}

export interface TaskView<S> {
  readonly partition: number;
  readonly epoch: number;
  readonly committed: ReadonlyMap<string, number>;
  /** The state as last committed (throws on a stale one). */
  stateOf(id: string): S | undefined;
}

/** Decides and encodes one piece of work on top of the round so far; throws without side effects. */
export async function decideWork<S, I>(ctx: DecideContext<S, I>, task: TaskView<S>, work: Work, round: Round<S>['states']): Promise<Round<S>> {
  // A stored state whose writer schema is not resolved yet throws before anything is decided: resolve it, decide again.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await decideOnce(ctx, task, work, round);
    } catch (error) {
      if (!(error instanceof UnresolvedSchemaError) || attempt >= 8) throw error;
      await ctx.codec.decode(error.bytes);
    }
  }
}

async function decideOnce<S, I>(ctx: DecideContext<S, I>, task: TaskView<S>, work: Work, round: Round<S>['states']): Promise<Round<S>> {
  const { definition } = ctx;
  const part = emptyRound<S>();
  const changed = new Map<string, S>();
  const emitted: Outgoing[] = [];
  const stateOf = (id: string): S | undefined => changed.get(id) ?? round.get(id)?.state ?? task.stateOf(id);
  const apply = (input: I, where: string): boolean => {
    const id = definition.processId(input);
    const before = stateOf(id) ?? definition.initialState(id);
    let decision;
    try {
      decision = definition.decide(input, before);
    } catch (cause) {
      throw new ProcessingError(`${definition.name} could not decide ${where} for ${id}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    part.decided += 1;
    if (!decision.changed) return false;
    part.changed += 1;
    changed.set(id, decision.state);
    emitted.push(...decision.emit);
    return true;
  };
  switch (work.kind) {
    case 'batch': {
      const { batch } = work;
      // Below the committed offset: decided and committed already (perhaps by a previous owner after our consumer fetched).
      const floor = task.committed.get(batch.topic) ?? -1;
      if (batch.consumedUpTo <= floor) return part;
      const records = batch.records.filter((r) => r.offset >= floor);
      part.dead.push(...batch.deadLetters.filter((l) => l.offset >= floor));
      const inputs = await definition.inputsFor(records, stateOf);
      inputs.forEach((input, i) => {
        const r = records[i];
        if (input !== null && r !== undefined) apply(input, `${r.type} at ${r.topic}/${r.partition}@${r.offset}`);
      });
      part.offsets.set(batch.topic, batch.consumedUpTo);
      break;
    }
    case 'deadlines':
      for (const entry of work.due) {
        if (entry.epoch !== task.epoch) continue; // queued before a restore, which queued it again
        const state = stateOf(entry.processId);
        // Checked again: the round may have changed the process since the deadline came due.
        if (state === undefined || !definition.deadlines(state).some((d) => d.name === entry.name && d.dueAt === entry.dueAt)) continue;
        const deadline: Deadline = { name: entry.name, dueAt: entry.dueAt };
        if (apply(definition.deadlineInput(entry.processId, deadline), `deadline ${entry.name}@${entry.dueAt}`)) part.fired += 1;
      }
      break;
    case 'flush':
      break;
  }
  const foldVersion = String(foldVersionOfDefinition(definition));
  // Encoded here, so a decision whose output its schema refuses is that input's fault (dead-lettered), not the round's.
  try {
    for (const o of emitted) {
      part.emit.push({
        topic: ctx.physical(o.topic),
        type: o.type,
        message: {
          key: o.key,
          value: await ctx.codec.encode(o.topic, o.recordName, o.value),
          partition: partitionFor(o.partitionKey, ctx.catalog.topic(o.topic).partitions),
          headers: { ...o.headers } satisfies IHeaders,
        },
      });
    }
    for (const [id, state] of changed) {
      const partition = partitionFor(id, ctx.changelog.partitions);
      if (partition !== task.partition) throw new Error(`${id} belongs to partition ${partition}, not ${task.partition}: its inputs are not keyed by its id`);
      const value = await ctx.codec.encode(ctx.changelog.logical, definition.stateRecord, state);
      // Stamped with the fold that made it: a build with another fold never decides on it (docs/state-stores.md "Fold versions").
      part.states.set(id, { state, record: { key: id, value, partition, headers: { [FOLD_VERSION_HEADER]: foldVersion } } });
    }
  } catch (cause) {
    if (cause instanceof RegistryError && cause.retriable) throw cause;
    throw new ProcessingError(`${definition.name} could not encode what it decided: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  return part;
}
