// A round's transaction for a definition with sequenced topics (emit-offsets.ts,
// docs/stateful-runtime.md "Sequenced outputs"): with the offsets predicted from
// the task's last commit, then, if the guess missed, again with the sequenced
// records sent first. Predictions are forgotten after any failure: an aborted
// transaction's records and marker take offsets too.
import type { Producer } from 'kafkajs';
import { OffsetGuessMissed, transactSequenced, type SequencedCommitted, type SequencedContext } from './emit-offsets';
import type { PositionWrite } from './position-store';
import type { Round } from './round';
import type { RuntimeCounts } from './task';

export interface Sequencing extends SequencedContext {
  /** Per task (by its producer, replaced on every restore): physical sequenced topic -> the next record's offset. */
  readonly predictions: WeakMap<Producer, Map<string, number>>;
}

/** The task loop's sequencing for a definition with sequenced topics; none for one without. */
export function sequencingOf(definition: { readonly sequenced?: readonly string[] }, ctx: Omit<SequencedContext, 'sequenced'>): { sequencing?: Sequencing } {
  const topics = definition.sequenced ?? [];
  return topics.length === 0 ? {} : { sequencing: { ...ctx, sequenced: new Set(topics.map(ctx.physical)), predictions: new WeakMap() } };
}

export async function sequencedRound<S>(
  sequencing: Sequencing,
  task: { readonly producer: Producer },
  where: { readonly groupId: string; readonly partition: number; readonly changelog: string },
  round: Round<S>,
  offsets: ReadonlyMap<string, number>,
  positions: PositionWrite,
  counts: RuntimeCounts,
): Promise<SequencedCommitted<S>> {
  const predicted = sequencing.predictions.get(task.producer);
  sequencing.predictions.delete(task.producer);
  let committed: SequencedCommitted<S>;
  try {
    committed = await transactSequenced(sequencing, task.producer, where, round, offsets, positions, predicted);
    if (committed.guessed && round.late.length > 0) counts.offsetsPredicted += 1;
  } catch (error) {
    if (!(error instanceof OffsetGuessMissed)) throw error;
    // Aborted cleanly: written again, learning the offsets first.
    counts.offsetGuessesMissed += 1;
    committed = await transactSequenced(sequencing, task.producer, where, round, offsets, positions, undefined);
  }
  const next = new Map(predicted);
  for (const [topic, offset] of committed.next) next.set(topic, offset);
  sequencing.predictions.set(task.producer, next);
  // Committed: the states completed with the offsets are the ones the store gets (docs/stateful-runtime.md "Sequenced outputs").
  for (const [id, changed] of committed.states) round.states.set(id, changed);
  return committed;
}
