// Finding the culprit of a batch whose decision throws, inside the round
// (docs/stateful-runtime.md "Decoupled fetch"). With the fetch decoupled the
// EventConsumer no longer sees the failure, so the task loop does what its
// retry path did: the batch's records are decided one at a time, each on top
// of the ones before; a record whose decision throws a ProcessingError becomes
// a dead letter of the round (which parks its process when the definition
// parks), and the others are decided as usual, all in the round's transaction.
// A retriable error throws, with nothing of the batch kept.
import { ProcessingError, type PartitionBatch } from '../consuming/batch-sink';
import type { DeadLetter } from '../consuming/dead-letters';
import { endSpan } from '../tracing/spans';
import { decideWork, emptyRound, mergeInto, type DecideContext, type Round, type TaskView } from './round';

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Decides `batch` record by record on top of `round`; returns what to merge into it, and the dead letters it added. */
export async function decideIsolating<S, I>(ctx: DecideContext<S, I>, view: TaskView<S>, batch: PartitionBatch, round: Round<S>): Promise<{ part: Round<S>; isolated: DeadLetter[] }> {
  const layered = emptyRound<S>();
  mergeInto(layered, round);
  const spansBefore = layered.spans.length;
  const part = emptyRound<S>();
  const isolated: DeadLetter[] = [];
  const add = (piece: Round<S>): void => {
    mergeInto(layered, piece);
    mergeInto(part, piece);
  };
  try {
    let deadLetters = batch.deadLetters;
    for (let i = 0; i < batch.records.length; i += 1) {
      const record = batch.records[i];
      if (record === undefined) continue;
      const last = i === batch.records.length - 1;
      const next = last ? batch.consumedUpTo : record.offset + 1;
      const one: PartitionBatch = { ...batch, records: [record], deadLetters, nextOffset: last ? batch.nextOffset : next, consumedUpTo: next };
      deadLetters = [];
      try {
        add(await decideWork(ctx, view, { kind: 'batch', batch: one }, layered));
      } catch (error) {
        if (!(error instanceof ProcessingError)) throw error;
        const letter: DeadLetter = { topic: record.topic, partition: record.partition, offset: record.offset, key: record.key, value: record.rawValue, headers: record.headers, reason: 'processing-failed', error: messageOf(error) };
        isolated.push(letter);
        add(await decideWork(ctx, view, { kind: 'batch', batch: { ...one, records: [], deadLetters: [...one.deadLetters, letter] } }, layered));
      }
    }
  } catch (error) {
    // Nothing of the batch is kept: the steps decided so far end here, failed.
    for (const span of layered.spans.slice(spansBefore)) endSpan(span, error);
    throw error;
  }
  return { part, isolated };
}
