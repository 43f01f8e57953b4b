// Restoring a worker's lanes (one per command topic and partition) on
// assignment, after the worker's transactional id is fenced: each lane's
// on-disk store is opened and brought to its snapshot partition's end
// (aggregate-store.ts; the lanes in parallel), and its position is the
// group's checkpoint restored with it, else (a partition this group never
// checkpointed) the group's committed offset.
import type { Kafka } from 'kafkajs';
import type { AvroCodec } from '../../infra/kafka/codec';
import type { Logger } from '../../infra/logging';
import { storeDirOf } from '../../infra/stateful/stamped-store';
import { AggregateStore } from './aggregate-store';
import type { AggregateRuntime } from './aggregates';
import type { LaneParking } from './parking';
import { laneKey, type Lane, type LaneTopics } from './lane';

export interface Route {
  /** The command topic. */
  readonly topic: string;
  readonly partition: number;
  readonly runtime: AggregateRuntime;
  readonly topics: LaneTopics;
  /** The lane's parked aggregates (parking.ts), restored before its state. */
  readonly parking: LaneParking;
}

export interface RestoreContext {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly groupId: string;
  /** One store directory per snapshot partition below it. */
  readonly stateDir: string;
  readonly epoch: string;
  readonly capacity?: number;
  readonly fetchBytes?: number;
  readonly onProgress?: (topic: string, partition: number, offset: number) => Promise<void>;
  readonly log: Logger;
}

/** The lanes, by lane key, restored; and how many snapshot records the restores applied. Throws StaleFoldError for snapshots of another fold version. */
export async function restoreLanes(ctx: RestoreContext, routes: readonly Route[]): Promise<{ readonly lanes: Map<string, Lane>; readonly records: number }> {
  const { kafka, codec, log } = ctx;
  const stores = new Map<string, AggregateStore>();
  const committed = new Map<string, number>();
  let records = 0;
  try {
    // Settled, not raced: a store still opening when another fails must be closed too.
    const outcomes = await Promise.allSettled(
      routes.map(async (r) => {
        const opened = await AggregateStore.open({
          kafka,
          codec,
          runtime: r.runtime,
          dir: storeDirOf(ctx.stateDir, r.topics.snapshots, r.partition),
          topic: r.topics.snapshots,
          partition: r.partition,
          epoch: ctx.epoch,
          groupId: ctx.groupId,
          ...(ctx.capacity === undefined ? {} : { capacity: ctx.capacity }),
          ...(ctx.fetchBytes === undefined ? {} : { fetchBytes: ctx.fetchBytes }),
          ...(ctx.onProgress === undefined ? {} : { onProgress: (offset: number) => ctx.onProgress?.(r.topics.snapshots, r.partition, offset) ?? Promise.resolve() }),
        });
        stores.set(laneKey(r.topic, r.partition), opened.store);
        records += opened.restore.records;
        if (opened.checkpoint !== undefined && opened.checkpoint.commandTopic === r.topic) committed.set(laneKey(r.topic, r.partition), opened.checkpoint.nextOffset);
        log.debug({ topic: r.topics.snapshots, partition: r.partition, ...opened.restore, aggregates: opened.store.size }, opened.restore.rebuilt === undefined ? 'lane store restored by delta' : 'lane store rebuilt from the snapshot partition');
      }),
    );
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    // A partition never checkpointed by this group (or written before checkpoints existed) starts at the group's committed offset.
    const unknown = routes.filter((r) => !committed.has(laneKey(r.topic, r.partition)));
    if (unknown.length > 0) {
      const admin = kafka.admin();
      try {
        await admin.connect();
        for (const offsets of await admin.fetchOffsets({ groupId: ctx.groupId, topics: [...new Set(unknown.map((r) => r.topic))] })) {
          for (const r of unknown.filter((u) => u.topic === offsets.topic)) {
            const offset = Number(offsets.partitions.find((p) => p.partition === r.partition)?.offset ?? -1);
            committed.set(laneKey(r.topic, r.partition), Math.max(offset, 0));
          }
        }
      } finally {
        await admin.disconnect();
      }
    }
  } catch (error) {
    for (const store of stores.values()) store.close();
    throw error;
  }
  const lanes = new Map<string, Lane>(
    routes.map((r) => {
      const key = laneKey(r.topic, r.partition);
      const at = committed.get(key) ?? 0;
      // Offsets below the committed one were decided (possibly by a previous owner) after our consumer fetched them.
      const lane: Lane = { partition: r.partition, runtime: r.runtime, topics: r.topics, entries: stores.get(key) as AggregateStore, parking: r.parking, queue: [], queuedUpTo: at, committed: at, readUpTo: at, nextEventOffset: undefined, paused: false };
      return [key, lane];
    }),
  );
  return { lanes, records };
}
