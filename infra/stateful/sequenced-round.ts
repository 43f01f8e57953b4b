// A round's transaction for a definition with sequenced topics (emit-offsets.ts,
// docs/stateful-runtime.md "Sequenced outputs"): with the offsets predicted from
// the task's last commit, then, if the guess missed, again with the sequenced
// records sent first. Predictions are forgotten after any failure: an aborted
// transaction's records and marker take offsets too.
import type { TaskProducer } from './task-group';
import { OffsetGuessMissed, transactSequencedParts, type SequencedCommitted, type SequencedContext, type SequencedPartsCommitted } from './emit-offsets';
import type { PositionWrite } from './position-store';
import type { Round } from './round';
import type { PartWrite } from './transact';
import type { RuntimeCounts } from './task';

export interface Sequencing extends SequencedContext {
  /** Per task (by its producer, replaced on every restore): physical sequenced topic -> the next record's offset. */
  readonly predictions: WeakMap<TaskProducer, Map<string, number>>;
}

/** The task loop's sequencing for definitions with sequenced topics (those of every part of a task); none for those without. */
export function sequencingOf(definitions: { readonly sequenced?: readonly string[] } | ReadonlyArray<{ readonly sequenced?: readonly string[] }>, ctx: Omit<SequencedContext, 'sequenced'>): { sequencing?: Sequencing } {
  const topics = ('length' in definitions ? definitions : [definitions]).flatMap((d) => d.sequenced ?? []);
  return topics.length === 0 ? {} : { sequencing: { ...ctx, sequenced: new Set(topics.map(ctx.physical)), predictions: new WeakMap() } };
}

/** The one-part round (a single-definition runtime's). */
export async function sequencedRound<S>(
  sequencing: Sequencing,
  task: { readonly producer: TaskProducer },
  where: { readonly groupId: string; readonly partition: number; readonly changelog: string },
  round: Round<S>,
  offsets: ReadonlyMap<string, number>,
  positions: PositionWrite,
  counts: RuntimeCounts,
): Promise<SequencedCommitted<S>> {
  const c = await sequencedParts(sequencing, task, where, [{ changelog: where.changelog, round, positions }], offsets, counts);
  return { changelogOffset: c.changelogOffsets[0], next: c.next, states: c.states[0] ?? new Map(), lateTypes: c.lateTypes, guessed: c.guessed };
}

/** The round of every part of a task, in one transaction (docs/stateful-runtime.md "Several definitions per task"). */
export async function sequencedParts<S>(
  sequencing: Sequencing,
  task: { readonly producer: TaskProducer },
  where: { readonly groupId: string; readonly partition: number },
  writes: ReadonlyArray<PartWrite<S>>,
  offsets: ReadonlyMap<string, number>,
  counts: RuntimeCounts,
): Promise<SequencedPartsCommitted<S>> {
  const predicted = sequencing.predictions.get(task.producer);
  sequencing.predictions.delete(task.producer);
  const late = writes.some((w) => w.round.late.length > 0);
  let committed: SequencedPartsCommitted<S>;
  try {
    committed = await transactSequencedParts(sequencing, task.producer, where, writes, offsets, predicted);
    if (committed.guessed && late) counts.offsetsPredicted += 1;
  } catch (error) {
    if (!(error instanceof OffsetGuessMissed)) throw error;
    // Aborted cleanly: written again, learning the offsets first.
    counts.offsetGuessesMissed += 1;
    committed = await transactSequencedParts(sequencing, task.producer, where, writes, offsets, undefined);
  }
  const next = new Map(predicted);
  for (const [topic, offset] of committed.next) next.set(topic, offset);
  sequencing.predictions.set(task.producer, next);
  // Committed: the states completed with the offsets are the ones the stores get (docs/stateful-runtime.md "Sequenced outputs").
  writes.forEach((w, k) => {
    for (const [id, changed] of committed.states[k] ?? []) w.round.states.set(id, changed);
  });
  return committed;
}
