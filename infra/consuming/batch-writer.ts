// Handing a decoded batch to the sink (docs/read-side.md "Failures"): the
// write is retried with backoff; a retriable failure (Redis or the registry
// down) is thrown, and the batch given back to kafkajs; one that is not (a
// projection throws, Redis refuses a command) has the batch written again one
// record at a time to find the culprit, which is dead-lettered (by the sink in
// its own transaction, or here through the DLQ producer) while the others are
// written. Counts what was written and dead-lettered.
import type { Logger } from '../logging';
import { withRetries, type RetryPolicy } from './backoff';
import { CheckpointMismatchError, type BatchSink, type DecodedRecord, type PartitionBatch } from './batch-sink';
import type { ConsumerMetrics } from './consumer-metrics';
import type { DeadLetter, DeadLetterQueue } from './dead-letters';

export interface WriterContext {
  readonly sink: BatchSink;
  readonly groupId: string;
  readonly retry: RetryPolicy;
  /** Is this error worth retrying / not the message's fault? */
  readonly isRetriable: (error: unknown) => boolean;
  readonly log: Logger;
  readonly metrics: ConsumerMetrics | undefined;
  /** The DLQ producer, for a sink that does not write dead letters itself. */
  dlq(): DeadLetterQueue | undefined;
  stopping(): boolean;
  /** The consumer's counters, counted on here. */
  readonly stats: { records: number; deadLettered: number };
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export class BatchWriter {
  constructor(private readonly ctx: WriterContext) {}

  /** Writes a batch; returns where the stored checkpoint stands after it. */
  async write(batch: PartitionBatch): Promise<number> {
    const { ctx } = this;
    const log = ctx.log.child({ topic: batch.topic, partition: batch.partition });
    const after = (expected: number | undefined, next: number): number => Math.max(expected ?? next, next);
    const retryable = (error: unknown): boolean => !ctx.stopping() && !(error instanceof CheckpointMismatchError);
    const onRetry = (error: unknown, attempt: number, delayMs: number): void => {
      ctx.metrics?.retries.inc({ group: ctx.groupId, operation: 'write' });
      log.warn({ err: error, attempt, delayMs, records: batch.records.length }, 'batch write failed; retrying');
    };
    const write = (b: PartitionBatch): Promise<void> => withRetries(ctx.retry, () => ctx.sink.write(b), onRetry, retryable);
    try {
      await write(batch);
      this.written(batch);
      return after(batch.expectedCheckpoint, batch.nextOffset);
    } catch (error) {
      if (error instanceof CheckpointMismatchError || ctx.isRetriable(error) || batch.records.length === 0) throw error;
      log.error({ err: error }, 'batch write keeps failing; writing its records one at a time to find the culprit');
    }
    let expected = batch.expectedCheckpoint;
    // The batch's own dead letters (a sink that writes them) go with the first write that succeeds.
    let deadLetters = batch.deadLetters;
    let failed = batch.failed ?? [];
    for (let i = 0; i < batch.records.length; i += 1) {
      const record = batch.records[i] as DecodedRecord;
      const next = i === batch.records.length - 1 ? batch.nextOffset : record.offset + 1;
      const one = { ...batch, records: [record], deadLetters, failed, nextOffset: next, consumedUpTo: i === batch.records.length - 1 ? batch.consumedUpTo : next, expectedCheckpoint: expected };
      try {
        await write(one);
        this.written(one);
      } catch (error) {
        if (error instanceof CheckpointMismatchError || ctx.isRetriable(error)) throw error;
        log.error({ err: error, offset: record.offset, eventType: record.type }, 'record keeps failing; dead-lettering it');
        const letter: DeadLetter = { topic: record.topic, partition: record.partition, offset: record.offset, key: record.key, value: record.rawValue, headers: record.headers, reason: 'processing-failed', error: messageOf(error) };
        if (ctx.sink.writesDeadLetters === true) {
          const skip = { ...one, records: [], deadLetters: [...deadLetters, letter] };
          await write(skip);
          this.written(skip);
        } else {
          await this.deadLetter([letter]);
          await write({ ...one, records: [], deadLetters: [], failed: [...failed, { record, letter }] });
        }
      }
      deadLetters = [];
      failed = [];
      expected = after(expected, next);
    }
    return after(batch.expectedCheckpoint, batch.nextOffset);
  }

  /** Sends dead letters through the DLQ producer (a sink that does not write them itself), with retries. */
  async deadLetter(letters: readonly DeadLetter[]): Promise<void> {
    const { ctx } = this;
    const dlq = ctx.dlq();
    if (dlq === undefined) throw new Error(`group ${ctx.groupId}: no dead-letter producer (its sink writes dead letters itself)`);
    for (const l of letters) ctx.log.warn({ topic: l.topic, partition: l.partition, offset: l.offset, reason: l.reason, error: l.error }, 'dead-lettering a message');
    await withRetries(
      ctx.retry,
      () => dlq.send(letters),
      () => ctx.metrics?.retries.inc({ group: ctx.groupId, operation: 'dead_letter' }),
      () => !ctx.stopping(),
    );
    ctx.stats.deadLettered += letters.length;
    for (const l of letters) {
      ctx.metrics?.deadLetters.inc({ group: ctx.groupId, reason: l.reason });
      ctx.metrics?.messages.inc({ group: ctx.groupId, result: 'dead_lettered' });
    }
  }

  /** Counts a written batch, and the dead letters a transactional sink wrote with it. */
  private written(batch: PartitionBatch): void {
    const { ctx } = this;
    ctx.stats.records += batch.records.length;
    if (batch.deadLetters.length === 0) return;
    ctx.stats.deadLettered += batch.deadLetters.length;
    for (const l of batch.deadLetters) {
      ctx.log.warn({ topic: l.topic, partition: l.partition, offset: l.offset, reason: l.reason, error: l.error }, 'dead-lettered a message');
      ctx.metrics?.deadLetters.inc({ group: ctx.groupId, reason: l.reason });
      ctx.metrics?.messages.inc({ group: ctx.groupId, result: 'dead_lettered' });
    }
  }
}
