// Taking on a partition group (docs/command-side.md "Fencing", "State"): the
// unit of ownership is a group of k consecutive partition numbers
// (COMMAND_PARTITIONS_PER_WORKER); its worker first fences the group's
// transactional id, then restores each lane's parked aggregates and its store
// by delta from its snapshot partition (restore-lanes.ts).
import type { Kafka } from 'kafkajs';
import { commandParkingName, type TopicCatalog } from '../../schemas/topics';
import type { AvroCodec } from '../../infra/kafka/codec';
import { fencedProducer } from '../../infra/kafka/transactions';
import type { Logger } from '../../infra/logging';
import type { AggregateRuntime } from './aggregates';
import type { LaneTopics, WorkerContext } from './lane';
import { commandParkingContext, LaneParking, restoreParked } from './parking';
import { PartitionWorker } from './partition-worker';
import { restoreLanes } from './restore-lanes';

/** Partition numbers in groups of k: which group a partition is in, a group's partitions, its transactional id. */
export class PartitionGroups {
  constructor(
    readonly k: number,
    private readonly groupId: string,
    /** The most partitions any command topic has. */
    private readonly most: number,
  ) {
    if (!Number.isSafeInteger(k) || k < 1) throw new RangeError(`partitionsPerWorker must be a positive integer, not ${k}`);
  }

  groupOf(partition: number): number {
    return Math.floor(partition / this.k);
  }

  /** The partition numbers of a group that some command topic has. */
  partitionsOf(group: number): number[] {
    const out: number[] = [];
    for (let p = group * this.k; p < (group + 1) * this.k && p < this.most; p += 1) out.push(p);
    return out;
  }

  /** `<group id>.p<p>` for single partitions (as before groups existed), `.p<first>-<last>` for groups. */
  transactionalId(group: number): string {
    const first = group * this.k;
    return this.k === 1 ? `${this.groupId}.p${first}` : `${this.groupId}.p${first}-${first + this.k - 1}`;
  }
}

export interface WorkerStart {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly logger: Logger;
  readonly catalog: TopicCatalog;
  readonly groupId: string;
  /** By command topic: its aggregate's deciders and topics. */
  readonly routes: ReadonlyMap<string, { readonly runtime: AggregateRuntime; readonly topics: LaneTopics }>;
  readonly context: WorkerContext;
  readonly stateDir: string;
  readonly changelogEpoch: string;
  readonly decodedCapacity?: number | undefined;
  readonly restoreFetchBytes?: number | undefined;
  readonly onRestoreProgress?: ((topic: string, partition: number, offset: number) => Promise<void>) | undefined;
}

/** Fences the group's transactional id, restores its lanes, and returns its worker. Throws StaleFoldError for snapshots of another fold version. */
export async function startWorker(s: WorkerStart, groups: PartitionGroups, group: number): Promise<PartitionWorker> {
  const { kafka, codec, logger, catalog } = s;
  const started = Date.now();
  const partitions = groups.partitionsOf(group);
  // Fences a zombie owner of the partitions and aborts whatever it left open.
  const producer = await fencedProducer(kafka, groups.transactionalId(group));
  try {
    const routes = [...s.routes].flatMap(([topic, route]) =>
      partitions
        .filter((partition) => partition < catalog.topic(topic).partitions)
        .map((partition) => {
          // The lane's parked aggregates, restored from its parked topic below (parking.ts).
          const parking = new LaneParking(commandParkingName(route.runtime.aggregate), commandParkingContext(catalog, topic, s.groupId, s.context.clock));
          return { topic, partition, ...route, parking };
        }),
    );
    await restoreParked(kafka, codec, routes);
    const restored = await restoreLanes(
      {
        kafka,
        codec,
        groupId: s.groupId,
        stateDir: s.stateDir,
        epoch: s.changelogEpoch,
        ...(s.decodedCapacity === undefined ? {} : { capacity: s.decodedCapacity }),
        ...(s.restoreFetchBytes === undefined ? {} : { fetchBytes: s.restoreFetchBytes }),
        ...(s.onRestoreProgress === undefined ? {} : { onProgress: s.onRestoreProgress }),
        log: logger,
      },
      routes,
    );
    const { lanes } = restored;
    logger.info({ partitions, aggregates: [...lanes.values()].reduce((n, l) => n + l.entries.size, 0), snapshots: restored.records, ms: Date.now() - started }, 'partition state restored');
    return new PartitionWorker(partitions, producer, lanes, s.context);
  } catch (error) {
    await producer.disconnect().catch(() => undefined);
    throw error;
  }
}
