// Taking on partitions (docs/stateful-runtime.md "Assignment"): fence the
// task's transactional id first, so nothing a previous owner left open can
// commit after the restore reads; open the partition's on-disk store and apply
// the changelog past the offset it reflects (all of it when the store is
// missing, damaged or from another changelog epoch); refuse states folded by
// another fold version; read where each input was decided up to (the group's
// committed offsets, or the checkpoints the store restored: position-store.ts).
// A task of several parts opens and restores one store per part.
import type { Admin, Kafka } from 'kafkajs';
import type { TaskProducer } from './task-group';
import type { AvroCodec } from '../kafka/codec';
import type { ParkedInput } from './parking';
import { parkedAt, readParked } from './parked-read';
import { fencedProducer } from '../kafka/transactions';
import type { Logger } from '../logging';
import { openStamped, storeDirOf } from './stamped-store';
import type { FoldRefusal, StatefulDefinition } from './definition';
import { foldVersionOfDefinition, PartitionState, stateDecoder, stateRow } from './partition-state';
import { isCheckpointKey, type PositionStore } from './position-store';
import type { TaskPart } from './task';

/** One part (definition) of the tasks to load (docs/stateful-runtime.md "Several definitions per task"). */
export interface LoadPart<S> {
  readonly definition: StatefulDefinition<S, unknown>;
  /** Physical topics the part consumes: its inputs, and its parked topic when it parks. */
  readonly inputs: readonly string[];
  /** Physical changelog topic. */
  readonly changelog: string;
  /** Physical parked topic, when the part parks. */
  readonly parked?: string;
  /** Where the part's input positions are read from (position-store.ts). */
  readonly positions: PositionStore;
}

export interface LoadContext<S> {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly codec: AvroCodec;
  readonly log: Logger;
  readonly groupId: string;
  /** Task p's transactional id is `<prefix><p>` (default `<groupId>.`). */
  readonly transactionalIdPrefix?: string;
  /** Task p's producer, fenced (its task group's, task-group.ts); default: its own `<prefix><p>`. */
  readonly producerFor?: (partition: number) => Promise<TaskProducer>;
  readonly parts: ReadonlyArray<LoadPart<S>>;
  /** Directory holding one store directory per changelog partition. */
  readonly stateDir: string;
  /** The changelog's incarnation (docs/state-stores.md "On assignment"). */
  readonly changelogEpoch: string;
  readonly restoreTimeoutMs: number;
  readonly decodedCapacity: number;
  readonly signal?: AbortSignal;
  readonly fetchBytes?: number;
  readonly onProgress?: (partition: number, offset: number) => Promise<void>;
  /** Stores restored side by side (default STATE_RESTORE_CONCURRENCY, else RESTORE_CONCURRENCY). */
  readonly restoreConcurrency?: number;
}

/**
 * Stores restored side by side by default. Each restore is its own consumer
 * (a throwaway group: a join of its own) and its own store, so while one waits
 * for a fetch or a join another decodes and writes (docs/state-stores.md
 * "Restoring stores side by side"). Each keeps its own crash safety: a batch
 * and the offset after it in one transaction of its own store.
 */
export const RESTORE_CONCURRENCY = 6;

function restoreConcurrency(ctx: Pick<LoadContext<unknown>, 'restoreConcurrency'>): number {
  const chosen = ctx.restoreConcurrency ?? Number(process.env.STATE_RESTORE_CONCURRENCY?.trim() || RESTORE_CONCURRENCY);
  if (!Number.isInteger(chosen) || chosen < 1) throw new Error(`STATE_RESTORE_CONCURRENCY must be a whole number of at least 1, not ${chosen}`);
  return chosen;
}

export interface Loaded<S> {
  readonly partition: number;
  readonly producer: TaskProducer;
  /** Per part: its store and parked processes (docs/stateful-runtime.md "Parking"). */
  readonly parts: Array<TaskPart<S>>;
  /** Physical input topic -> offset committed (by us or whoever owned the partition before), in the group or a checkpoint. */
  readonly committed: Map<string, number>;
  /** Physical input topic -> where consuming starts (committed, else the log start). */
  readonly starts: Map<string, number>;
}

export { storeDirOf };

async function loadOne<S>(ctx: LoadContext<S>, part: LoadPart<S>, partition: number): Promise<PartitionState<S>> {
  const { definition } = part;
  const foldVersion = foldVersionOfDefinition(definition);
  const opened = await openStamped({
    kafka: ctx.kafka,
    dir: storeDirOf(ctx.stateDir, part.changelog, partition),
    identity: { topic: part.changelog, partition, epoch: ctx.changelogEpoch, foldVersion },
    decode: stateDecoder(ctx.codec, definition),
    decodedCapacity: ctx.decodedCapacity,
    row: stateRow(ctx.codec, definition),
    // Checkpoints (positions in the changelog) are positions, not states: never refused for their fold.
    ...(definition.positions === 'changelog' ? { isState: (key: string) => !isCheckpointKey(key) } : {}),
    refusal: (why) => {
      const at = { changelog: part.changelog, partition, foldVersion, groupId: ctx.groupId };
      const refusal: FoldRefusal = why.kind === 'store' ? { ...at, kind: 'store', stored: why.stored } : { ...at, kind: 'records', count: why.count, versions: why.versions };
      return definition.foldRefusal?.(refusal) ?? runtimeFoldRefusal(definition.name, refusal);
    },
    timeoutMs: ctx.restoreTimeoutMs,
    signal: ctx.signal,
    ...(ctx.fetchBytes === undefined ? {} : { fetchBytes: ctx.fetchBytes }),
    ...(ctx.onProgress === undefined ? {} : { onProgress: (offset: number) => ctx.onProgress?.(partition, offset) ?? Promise.resolve() }),
  });
  const { restore } = opened;
  ctx.log.info(
    { partition, changelog: part.changelog, from: restore.from, to: restore.to, records: restore.records, ms: restore.ms, rebuilt: opened.rebuilt, states: opened.store.size() },
    opened.rebuilt === undefined ? 'partition store restored by delta' : 'partition store rebuilt from the changelog',
  );
  return new PartitionState(opened.store, definition);
}

/** The runtime's refusal of states of another fold version: migrate them (docs/state-stores.md "Fold versions"); a definition may give its own (`foldRefusal`). */
export function runtimeFoldRefusal(name: string, why: FoldRefusal): string {
  return (
    (why.kind === 'store'
      ? `${name}: the store of ${why.changelog}[${why.partition}] was made by fold version ${why.stored}, this build's fold is version ${why.foldVersion}; `
      : `${name}: ${why.count} state(s) of ${why.changelog}[${why.partition}] were folded by fold version ${why.versions.join(', ')}, this build's fold is version ${why.foldVersion}; `) +
    `deciding on them would decide on stale state. Stop every instance of ${why.groupId}, run \`npm run states:migrate -- ${name}\` with this build ` +
    '(it needs the definition\'s `migrate`), then start this build with a new STATE_CHANGELOG_EPOCH (docs/state-stores.md "Fold versions").'
  );
}

/**
 * Every part's store of every partition, restored at most `restoreConcurrency`
 * at a time; each opened store is pushed to `opened` (the caller closes them
 * on failure). The first failure stops the others at their next batch and is
 * what is thrown, once every restore has settled (a StaleFoldError stays one).
 */
async function restoreStores<S>(ctx: LoadContext<S>, partitions: readonly number[], opened: Array<PartitionState<S>>): Promise<Array<Array<PartitionState<S>>>> {
  const jobs = partitions.flatMap((partition, i) => ctx.parts.map((part, k) => ({ partition, part, i, k })));
  const states: Array<Array<PartitionState<S>>> = partitions.map(() => []);
  const failed = new AbortController();
  const signal = ctx.signal === undefined ? failed.signal : AbortSignal.any([ctx.signal, failed.signal]);
  let first: { readonly error: unknown } | undefined;
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let job = jobs[next++]; job !== undefined; job = jobs[next++]) {
      if (first !== undefined) return;
      try {
        ctx.signal?.throwIfAborted();
        const state = await loadOne({ ...ctx, signal }, job.part, job.partition);
        opened.push(state);
        (states[job.i] as Array<PartitionState<S>>)[job.k] = state;
      } catch (error) {
        first ??= { error };
        failed.abort(error);
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(restoreConcurrency(ctx), jobs.length) }, lane));
  if (first !== undefined) throw first.error;
  return states;
}

export async function loadPartitions<S>(ctx: LoadContext<S>, partitions: readonly number[]): Promise<Array<Loaded<S>>> {
  // 1. Fence first, so nothing a previous owner left open can commit after we read.
  const producers = await Promise.all(partitions.map((p): Promise<TaskProducer> => ctx.producerFor?.(p) ?? fencedProducer(ctx.kafka, `${ctx.transactionalIdPrefix ?? `${ctx.groupId}.`}${p}`)));
  const opened: Array<PartitionState<S>> = [];
  try {
    // 2. Each partition's stores (one per part), restored to their changelogs' ends, several side by side; a stale fold in any refuses the task.
    const states = await restoreStores(ctx, partitions, opened);
    const committed = new Map<number, Map<string, number>>(partitions.map((p) => [p, new Map()]));
    const parked: Array<Map<number, Map<string, readonly ParkedInput[]>>> = [];
    for (const [k, part] of ctx.parts.entries()) {
      // 2b. Parked processes: the parked topic is small (compacted, tombstoned on redrive), read whole.
      parked.push(part.parked === undefined ? new Map() : await loadParked(ctx, part.parked, partitions));
      // 3. Where each input partition was committed (the group's offsets, or the part's restored checkpoints).
      const read = await part.positions.read(partitions.map((partition, i) => ({ partition, store: (states[i]?.[k] as PartitionState<S>).store })));
      for (const [partition, offsets] of read) for (const [topic, offset] of offsets) committed.get(partition)?.set(topic, offset);
    }
    const inputs = ctx.parts.flatMap((part) => part.inputs);
    const lows = new Map<string, Map<number, number>>();
    for (const topic of inputs) lows.set(topic, new Map((await ctx.admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.low)])));
    return partitions.map((partition, i) => {
      const c = new Map<string, number>();
      const starts = new Map<string, number>();
      for (const topic of inputs) {
        const offset = committed.get(partition)?.get(topic);
        if (offset !== undefined) c.set(topic, offset);
        starts.set(topic, offset ?? lows.get(topic)?.get(partition) ?? 0);
      }
      const parts = ctx.parts.map((_, k) => ({ state: states[i]?.[k] as PartitionState<S>, parked: parked[k]?.get(partition) ?? new Map<string, readonly ParkedInput[]>() }));
      return { partition, producer: producers[i] as TaskProducer, parts, committed: c, starts };
    });
  } catch (error) {
    for (const state of opened) state.close();
    await Promise.all(producers.map((p) => p.disconnect().catch(() => undefined)));
    throw error;
  }
}

/** The parked inputs of `partitions`, per partition and process, as the committed parked topic holds them. */
export async function loadParked(ctx: Pick<LoadContext<unknown>, 'kafka' | 'codec' | 'restoreTimeoutMs'>, topic: string, partitions: readonly number[]): Promise<Map<number, Map<string, readonly ParkedInput[]>>> {
  const read = await readParked(ctx.kafka, ctx.codec, [{ topic, partitions }], ctx.restoreTimeoutMs);
  return new Map(partitions.map((p) => [p, read.get(parkedAt(topic, p)) ?? new Map()]));
}
