// A lane: partition p of one command topic, as a partition worker
// (partition-worker.ts) holds it: its aggregates' store, its parked
// aggregates, the commands fetched and not yet decided, and its positions.
import type { KafkaMessage } from 'kafkajs';
import type { AvroCodec } from '../../infra/kafka/codec';
import type { Logger } from '../../infra/logging';
import type { AggregateRuntime } from './aggregates';
import type { AggregateStore } from './aggregate-store';
import type { CommandProcessorMetrics } from './metrics';
import type { LaneParking } from './parking';


/** A worker's lanes are keyed by command topic and partition. */
export const laneKey = (topic: string, partition: number): string => `${topic}:${partition}`;

export interface LaneTopics {
  readonly commands: string;
  readonly events: string;
  readonly snapshots: string;
}

/** One command partition's share of a worker: partition p of one command topic and its aggregates. */
export interface Lane {
  readonly partition: number;
  readonly runtime: AggregateRuntime;
  readonly topics: LaneTopics;
  readonly entries: AggregateStore;
  /** The lane's parked aggregates (parking.ts). */
  readonly parking: LaneParking;
  /** Commands fetched and not yet decided, in offset order. */
  readonly queue: KafkaMessage[];
  /** The next offset to queue: a re-fetch (after a rebalance or a seek) never queues a command twice. */
  queuedUpTo: number;
  /** The offset after the last command committed (by this worker, or the group's committed offset at start). */
  committed: number;
  /** The offset after the last record fetched, transaction markers included, every command below it queued (lane-position.ts). */
  readUpTo: number;
  /**
   * Where this lane's next event will land, when known. The worker is the only
   * writer of its events partition, so after a transaction that wrote n events
   * from base b the next offset is b + n + 1 (one commit marker). With it the
   * events go in the same produce request as everything else; the broker's
   * answer is checked, and a wrong guess aborts and retries with the events
   * written first.
   */
  nextEventOffset: number | undefined;
  paused: boolean;
}

export interface WorkerContext {
  readonly codec: AvroCodec;
  readonly logger: Logger;
  readonly groupId: string;
  readonly clock: () => number;
  readonly repliesPartitions: number;
  /** Command record full names this processor decides. */
  readonly commandRecords: ReadonlySet<string>;
  readonly metrics: CommandProcessorMetrics | undefined;
  /** Called between a transaction's commit and its store writes: the crash point the crash tests kill -9 at. */
  readonly betweenCommitAndStore?: ((partitions: readonly number[]) => Promise<void>) | undefined;
}
