// What a stateful runtime (runtime.ts) is given: its definition, its topics and where its stores live, and the seams the crash tests use.
import type { Kafka } from 'kafkajs';
import type { TopicCatalog } from '../../schemas/topics';
import type { RetryPolicy } from '../consuming/backoff';
import type { AvroCodec } from '../kafka/codec';
import type { Logger } from '../logging';
import type { StatefulDefinition } from './definition';
import type { FetchLimits } from './fetch-queue';

export interface StatefulRuntimeOptions<S, I> {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly logger: Logger;
  readonly definition: StatefulDefinition<S, I>;
  /** The catalog topic holding the states (compacted; key = state key). */
  readonly changelog: string;
  readonly catalog?: TopicCatalog;
  /** Physical topic per catalog topic, for tests and benches on topics of their own (records are still encoded with the catalog topic's subjects). */
  readonly topicMap?: Readonly<Record<string, string>>;
  readonly groupId: string;
  /** Where the partition stores live (one directory per changelog partition). Default: a directory of its own, deleted at stop (every start restores from scratch). */
  readonly stateDir?: string;
  /**
   * The catalog topic of the runtime's parked inputs (compacted, co-partitioned
   * with the changelog): with it, a definition that declares `parking` parks
   * processes instead of skipping their dead-lettered inputs (docs/stateful-runtime.md "Parking").
   */
  readonly parkedTopic?: string;
  /**
   * Task p's transactional id is `<transactionalIdPrefix><p>`; default `<groupId>.`. The command
   * processor's definitions give `<group>.p` (the processor's `restaurant.command-processor.p<p>`), so the
   * runtime and the processor fence each other on the same partition (docs/stateful-runtime.md "Not done").
   */
  readonly transactionalIdPrefix?: string;
  /**
   * Task groups (docs/stateful-runtime.md "Task groups"): the tasks of k consecutive partition numbers share one
   * transactional producer (`<transactionalIdPrefix><first>-<last>`; `<prefix><p>` for k = 1) and their rounds share
   * its transactions; the assigner deals whole groups. Given (even 1), a group's first producer also fences the ids
   * other group sizes give its partitions. Default: not given, each task its own producer.
   */
  readonly partitionsPerTask?: number;
  /** The changelog's incarnation: change it when the changelog topic is recreated (default "1"). */
  readonly changelogEpoch?: string;
  /** Decoded states kept in memory per partition (default 500). */
  readonly decodedCapacity?: number;
  readonly clock?: () => number;
  readonly retry?: RetryPolicy;
  /** How long the offsets of rounds that changed nothing may wait for a transaction to ride with (default 1000 ms). */
  readonly offsetFlushMs?: number;
  /** Longest a restore may take to read the changelog (default 10 minutes). */
  readonly restoreTimeoutMs?: number;
  /** Bytes fetched per partition and request (kafkajs's default is 1 MB). */
  readonly maxBytesPerPartition?: number;
  /** Bytes fetched per restore request (default 4 MiB); with `onRestoreProgress`, what the crash tests slow a restore with. */
  readonly restoreFetchBytes?: number;
  /** Called after each applied restore batch (the crash tests kill -9 part-way through a restore). */
  readonly onRestoreProgress?: (partition: number, offset: number) => Promise<void>;
  /**
   * Fetching decoupled from deciding (docs/stateful-runtime.md "Decoupled fetch"): the consumer queues batches
   * on their tasks and fetches on, each task drains on its own. Default: on; STATEFUL_DECOUPLED_FETCH=0 switches it off.
   */
  readonly decoupledFetch?: boolean;
  /** With `decoupledFetch`: when a partition pauses and resumes, and the records a round decides at most (fetch-queue.ts). */
  readonly fetchLimits?: Partial<FetchLimits>;
  /** Called between a round's commit and its store writes (with the physical changelogs the round wrote): the crash point the crash tests kill -9 at (test/support/stateful-crash-child.ts). */
  readonly betweenCommitAndStore?: (partition: number, changelogs: readonly string[]) => Promise<void>;
  /**
   * Called after each committed transaction with how long its round took, from the start of its
   * decisions to the commit (before the store writes): the command processor's
   * `restaurant_command_transaction_duration_seconds` (docs/stateful-runtime.md "Rounds").
   */
  readonly onTransactionCommitted?: (partition: number, seconds: number) => void;
}
