// What the command processor is given (processor.ts).
import type { Kafka } from 'kafkajs';
import type { TopicCatalog } from '../../schemas/topics';
import type { AvroCodec } from '../../infra/kafka/codec';
import type { Logger } from '../../infra/logging';
import type { CommandAggregate } from '../gateway/command-bus';
import type { AggregateRuntime, ProcessorContext } from './aggregates';
import type { CommandMetricRecorder } from './metrics';

export interface CommandProcessorOptions {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly logger: Logger;
  readonly context: ProcessorContext;
  readonly groupId?: string;
  readonly catalog?: TopicCatalog;
  readonly clock?: () => number;
  /** The processor's metrics, fed from the decisions and the runtime's stats (runtime-metrics.ts). */
  readonly metrics?: CommandMetricRecorder;
  /**
   * Consecutive partition numbers decided by one task of the runtime, with one
   * producer and one transaction per round (default 1). Larger groups: fewer,
   * larger transactions, and at most ⌈partitions / k⌉ processors sharing the
   * work. Every member of the group must use the same value.
   */
  readonly partitionsPerWorker?: number;
  /** Where the stores live (one directory per snapshot partition). Default: a directory of its own, deleted at stop (every start restores from the snapshot topics). */
  readonly stateDir?: string;
  /** The snapshot topics' incarnation: change it when they are recreated, and every store is rebuilt (default "1"). */
  readonly changelogEpoch?: string;
  /** Decoded aggregates kept in memory per command partition (default 500). */
  readonly decodedCapacity?: number;
  /** Replaces aggregates' deciders (tests: a changed fold with another fold version). */
  readonly aggregates?: Partial<Record<CommandAggregate, AggregateRuntime>>;
  /** Bytes fetched per restore request; with `onRestoreProgress`, what the crash tests slow a restore with. */
  readonly restoreFetchBytes?: number;
  /** Called after each applied restore batch of a snapshot partition (the crash tests kill -9 part-way through a restore); the topic is given as ''. */
  readonly onRestoreProgress?: (topic: string, partition: number, offset: number) => Promise<void>;
  /** Called between a transaction's commit and its store writes (the crash tests kill -9 there). */
  readonly betweenCommitAndStore?: (partitions: readonly number[]) => Promise<void>;
}
