// The contract between the EventConsumer (event-consumer.ts) and what it
// hands batches to: a BatchSink (a projector, the stateful runtime), the
// decoded records and partition batches it receives, the checkpoint a sink of
// its own keeps (Checkpointing), and the two errors a sink throws to say what
// kind of failure it is.
import type { IHeaders } from 'kafkajs';
import type { DeadLetter } from './dead-letters';

/** A consumed, decoded record. */
export interface DecodedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: Buffer | null;
  readonly rawValue: Buffer | null;
  readonly headers: IHeaders | undefined;
  /** Short record name, e.g. `OrderPlaced`. */
  readonly type: string;
  readonly fullName: string;
  readonly value: unknown;
}

export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  /** Records to apply, in offset order (skipped and dead-lettered ones left out). */
  readonly records: readonly DecodedRecord[];
  /** Messages of this batch that cannot be decoded, for a sink that `writesDeadLetters` (else always empty). */
  readonly deadLetters: readonly DeadLetter[];
  /** The checkpoint to store with them: the offset after the last consumed message. */
  readonly nextOffset: number;
  /** The offset after the last record read, transaction markers included (>= nextOffset). */
  readonly consumedUpTo: number;
  /** The checkpoint the consumer believes is stored (undefined: none); the sink refuses the write when it is not. */
  readonly expectedCheckpoint: number | undefined;
  /**
   * Messages of this batch that the consumer has already written to the DLQ
   * (a sink that does not write dead letters itself): undecodable ones, and
   * records that kept failing. A sink that parks aggregates (the projectors)
   * parks theirs, atomically with the checkpoint; others ignore them.
   */
  readonly failed?: readonly FailedRecord[];
}

/** A dead-lettered message, with its decoded record when it could be decoded (a record that kept failing). */
export interface FailedRecord {
  readonly letter: DeadLetter;
  readonly record?: DecodedRecord;
}

/** What a sink that keeps its own checkpoint (the projectors) offers the consumer. */
export interface Checkpointing {
  /** The stored checkpoint: next offset per partition of `topic` (absent = none). */
  checkpoints(topic: string): Promise<ReadonlyMap<number, number>>;
  /** Partitions of `topic` being rebuilt from the start, with the end offset each must reach. */
  rebuildTargets(topic: string): Promise<ReadonlyMap<number, number>>;
  /** Starts a partition again: its checkpoint becomes `from`; it is rebuilding until `until` is read (none when until <= from). */
  restart(topic: string, partition: number, from: number, until: number): Promise<void>;
  /** The partition has been read up to its rebuild target. */
  rebuilt(topic: string, partition: number): Promise<void>;
}

export interface BatchSink {
  /** Present on a sink with its own checkpoint; without it, the group's committed offsets are where reading starts. */
  readonly checkpointing?: Checkpointing;
  /**
   * Called on every assignment, before any batch of it is written (e.g. to
   * fence and restore state). Assignments are taken on one at a time: a later
   * one waits until this call has returned or thrown. `superseded` is aborted
   * as soon as a later assignment arrives (a rebalance while this one is
   * restoring): stop early, keeping what was restored; the later call goes on
   * from there.
   */
  assigned?(assignment: Readonly<Record<string, readonly number[]>>, superseded: AbortSignal): Promise<void>;
  /**
   * A sink without `checkpointing` whose positions are not the group's offsets
   * (the stateful runtime with positions in its changelog): where to start
   * reading a partition it was just assigned (asked after `assigned`);
   * undefined: the group's committed offset.
   */
  startAt?(topic: string, partition: number): number | undefined;
  /** True when `write` puts `batch.deadLetters` in the DLQ itself, atomically with the batch. */
  readonly writesDeadLetters?: boolean;
  /**
   * True when `write` only queues the batch and returns (the stateful runtime's
   * decoupled fetch): the batch is handed over only if no seek is pending for
   * its partition, and the sink moves the consumer itself (`rewind`, `pause`,
   * `resume`) and isolates failing records itself.
   */
  readonly queues?: boolean;
  /**
   * Applies the records and stores `nextOffset` (forward only), atomically. A
   * checkpointing sink does so only if the stored checkpoint is
   * `expectedCheckpoint`, and throws CheckpointMismatchError without writing
   * anything otherwise.
   */
  write(batch: PartitionBatch): Promise<void>;
}

/** A failure that retrying will not fix (a projection bug, Redis refusing a command): isolate and dead-letter. */
export class ProcessingError extends Error {
  override readonly name = 'ProcessingError';
  readonly retriable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The stored checkpoint is not the one the consumer expected: its view is stale, not the message's fault. */
export class CheckpointMismatchError extends Error {
  override readonly name = 'CheckpointMismatchError';
  readonly retriable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** How far a partition has been read, for progress reports (the replay tool). */
export interface PartitionProgress {
  readonly topic: string;
  readonly partition: number;
  /** The offset after the last record read, transaction markers included. */
  readonly position: number;
  /** Messages in the batch just read. */
  readonly messages: number;
}
