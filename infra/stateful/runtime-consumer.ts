// The stateful runtime's consumer (runtime.ts): an EventConsumer over the
// definition's inputs (and its parked topic, where operators' requests
// arrive), with the runtime as its sink, the co-partitioned assigner (one
// member gets partition p of every input; sticky), no offsets of its own unless they
// are only a lag report of the batch-at-a-time path (with the decoupled fetch
// the runtime reports its tasks' committed positions itself: lag-report.ts),
// and the group timeouts of docs/recovery.md.
import { EventConsumer } from '../consuming/event-consumer';
import { ProcessingError, type BatchSink, type PartitionProgress } from '../consuming/batch-sink';
import { coPartitionedAssigner, OwnedPartitions } from '../kafka/co-partitioned-assigner';
import type { Logger } from '../logging';
import type { StatefulRuntimeOptions } from './runtime-options';

export interface RuntimeConsumerParts {
  readonly sink: BatchSink;
  readonly log: Logger;
  /** Physical topics consumed: the inputs, and the parked topic when parking. */
  readonly topics: readonly string[];
  /** Record types routed in (the definition's, and ParkingRequest when parking). */
  readonly handles: ReadonlySet<string>;
  /** Input topics of definitions with `unhandled: 'dead-letter'`: records of other types are dead letters. */
  readonly deadLetterUnhandled: ReadonlySet<string>;
  /** The inputs' (and changelog's) partition count. */
  readonly partitions: number;
  /** Partition numbers per task group (task-group.ts): the assigner deals whole groups. */
  readonly partitionsPerTask: number;
  /** Positions in the changelog, fetch coupled: the group's offsets are a lag report the consumer commits itself. */
  readonly lagReportOnly: boolean;
  readonly onProgress: (progress: PartitionProgress) => void;
}

export function runtimeConsumer(options: Pick<StatefulRuntimeOptions<unknown, unknown>, 'kafka' | 'codec' | 'groupId' | 'retry' | 'maxBytesPerPartition'>, parts: RuntimeConsumerParts): EventConsumer {
  // Sticky: at each join the member claims the partition numbers it owns, so one that crashed and rejoined under a new
  // member id gets its own back (its stores are on its disk) rather than a deal by the new ids, each move a restore.
  const owned = new OwnedPartitions();
  return new EventConsumer({
    kafka: options.kafka,
    codec: options.codec,
    logger: parts.log,
    groupId: options.groupId,
    topics: parts.topics,
    handles: parts.handles,
    ...(parts.deadLetterUnhandled.size === 0 ? {} : { deadLetterUnhandled: parts.deadLetterUnhandled }),
    sink: parts.sink,
    ...(options.retry === undefined ? {} : { retry: options.retry }),
    // Only a decision that throws is the message's fault; anything else (Kafka, facts not caught up, a stale state) is retried, then handed back.
    isRetriable: (error) => !(error instanceof ProcessingError),
    // Positions in the changelog, fetch coupled: the group's offsets are for lag monitoring only, committed by the consumer
    // outside the transactions once a second (past trailing markers too), never read back while a checkpoint exists.
    // With the decoupled fetch `write` resolves once queued, so the runtime reports instead (lag-report.ts).
    autoCommit: parts.lagReportOnly,
    partitionAssigners: [coPartitionedAssigner(parts.partitionsPerTask, owned)],
    onConsumer: (consumer) => owned.follow(consumer),
    // Every batch of a fetch at once: each task has its own producer, and batches of one task are merged into one transaction.
    partitionsConsumedConcurrently: parts.topics.length * parts.partitions,
    consumerConfig: {
      readUncommitted: false,
      maxWaitTimeInMs: 50,
      // A crashed instance's partitions move to the survivors (or its replacement) within ~6 s (docs/recovery.md).
      sessionTimeout: 6_000,
      rebalanceTimeout: 20_000,
      heartbeatInterval: 1_000,
      ...(options.maxBytesPerPartition === undefined ? {} : { maxBytesPerPartition: options.maxBytesPerPartition }),
    },
    onProgress: parts.onProgress,
  });
}
