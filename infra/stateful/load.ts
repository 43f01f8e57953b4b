// Taking on partitions (docs/stateful-runtime.md "Assignment"): fence the
// task's transactional id first, so nothing a previous owner left open can
// commit after the restore reads; open the partition's on-disk store and apply
// the changelog past the offset it reflects (all of it when the store is
// missing, damaged or from another changelog epoch); refuse states folded by
// another fold version; read the group's committed input offsets.
import { join } from 'node:path';
import type { Admin, Kafka, Producer } from 'kafkajs';
import type { AvroCodec } from '../kafka/codec';
import { readToEnd } from '../kafka/read-to-end';
import { PARKED_INPUT } from '../../schemas/loader';
import { groupParked, parkedFromRecord, REQUEST_KEY_PREFIX, type ParkedInput } from './parking';
import { fencedProducer } from '../kafka/transactions';
import type { Logger } from '../logging';
import { openAndRestore } from '../state/open-store';
import { deleteStore } from '../state/state-store';
import type { StoreIdentity } from '../state/restore-plan';
import type { StatefulDefinition } from './definition';
import { foldVersionOfDefinition, PartitionState, restoreChanges, StaleFoldError, stateDecoder } from './partition-state';

export interface LoadContext<S> {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly codec: AvroCodec;
  readonly log: Logger;
  readonly groupId: string;
  readonly definition: StatefulDefinition<S, unknown>;
  /** Physical input topics. */
  readonly inputs: readonly string[];
  /** Physical changelog topic. */
  readonly changelog: string;
  /** Physical parked topic, when the runtime parks. */
  readonly parked?: string;
  /** Directory holding one store directory per partition task. */
  readonly stateDir: string;
  /** The changelog's incarnation (docs/state-stores.md "On assignment"). */
  readonly changelogEpoch: string;
  readonly restoreTimeoutMs: number;
  readonly decodedCapacity: number;
  readonly signal?: AbortSignal;
  readonly fetchBytes?: number;
  readonly onProgress?: (partition: number, offset: number) => Promise<void>;
}

export interface Loaded<S> {
  readonly partition: number;
  readonly producer: Producer;
  readonly state: PartitionState<S>;
  /** The partition's parked processes (docs/stateful-runtime.md "Parking"). */
  readonly parked: Map<string, readonly ParkedInput[]>;
  /** Physical input topic -> offset committed in Kafka (by us or whoever owned the partition before). */
  readonly committed: Map<string, number>;
  /** Physical input topic -> where consuming starts (committed, else the log start). */
  readonly starts: Map<string, number>;
}

export const storeDirOf = (stateDir: string, changelog: string, partition: number): string => join(stateDir, `${changelog}-${partition}`);

async function loadOne<S>(ctx: LoadContext<S>, partition: number): Promise<PartitionState<S>> {
  const { definition } = ctx;
  const foldVersion = foldVersionOfDefinition(definition);
  const identity: StoreIdentity = { topic: ctx.changelog, partition, epoch: ctx.changelogEpoch, foldVersion };
  const dir = storeDirOf(ctx.stateDir, ctx.changelog, partition);
  const stale = new Map<string, number>();
  const restored = await openAndRestore(ctx.kafka, dir, identity, {
    decode: stateDecoder(ctx.codec, definition),
    decodedCapacity: ctx.decodedCapacity,
    timeoutMs: ctx.restoreTimeoutMs,
    signal: ctx.signal,
    ...(ctx.fetchBytes === undefined ? {} : { fetchBytes: ctx.fetchBytes }),
    ...(ctx.onProgress === undefined ? {} : { onProgress: ({ offset }: { readonly offset: number }) => ctx.onProgress?.(partition, offset) }),
    prepare: restoreChanges(ctx.codec, definition, (key, version) => stale.set(key, version)),
  });
  if (restored.kind === 'stale-fold') throw new StaleFoldError(`${definition.name}: ${restored.message}`);
  // Stored states are stamped either by this build's commits or by a restore, so the restore alone can bring stale ones.
  for (const [key, version] of stale) if (restored.store.getEntry(key)?.foldVersion !== version) stale.delete(key);
  if (stale.size > 0) {
    // The store now reflects records that must be read (and refused) again next time: it is dropped, not kept.
    restored.store.close();
    deleteStore(dir);
    const versions = [...new Set(stale.values())].sort((a, b) => a - b).join(', ');
    throw new StaleFoldError(
      `${definition.name}: ${stale.size} state(s) of ${ctx.changelog}[${partition}] were folded by fold version ${versions}, this build's fold is version ${foldVersion}; ` +
        'deciding on them would decide on stale state. Rebuild the states from the events topics (docs/state-stores.md "Fold versions") before starting this build.',
    );
  }
  const { restore } = restored;
  ctx.log.info(
    { partition, from: restore.from, to: restore.to, records: restore.records, ms: restore.ms, rebuilt: restored.rebuilt?.reason, states: restored.store.size() },
    restored.rebuilt ? 'partition store rebuilt from the changelog' : 'partition store restored by delta',
  );
  return new PartitionState(restored.store, definition);
}

export async function loadPartitions<S>(ctx: LoadContext<S>, partitions: readonly number[]): Promise<Array<Loaded<S>>> {
  // 1. Fence first, so nothing a previous owner left open can commit after we read.
  const producers = await Promise.all(partitions.map((p) => fencedProducer(ctx.kafka, `${ctx.groupId}.${p}`)));
  const states: Array<PartitionState<S>> = [];
  try {
    // 2. Each partition's store, restored to the changelog's end.
    for (const partition of partitions) {
      ctx.signal?.throwIfAborted();
      states.push(await loadOne(ctx, partition));
    }
    // 2b. Parked processes: the parked topic is small (compacted, tombstoned on redrive), read whole.
    const parked = ctx.parked === undefined ? new Map<number, Map<string, readonly ParkedInput[]>>() : await loadParked(ctx, ctx.parked, partitions);
    // 3. Where each input partition was committed, else where it starts.
    const committed = await ctx.admin.fetchOffsets({ groupId: ctx.groupId, topics: [...ctx.inputs] });
    const lows = new Map<string, Map<number, number>>();
    for (const topic of ctx.inputs) lows.set(topic, new Map((await ctx.admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.low)])));
    return partitions.map((partition, i) => {
      const c = new Map<string, number>();
      const starts = new Map<string, number>();
      for (const topic of ctx.inputs) {
        const offset = Number(committed.find((t) => t.topic === topic)?.partitions.find((x) => x.partition === partition)?.offset ?? -1);
        if (offset >= 0) c.set(topic, offset);
        starts.set(topic, offset >= 0 ? offset : (lows.get(topic)?.get(partition) ?? 0));
      }
      return { partition, producer: producers[i] as Producer, state: states[i] as PartitionState<S>, parked: parked.get(partition) ?? new Map(), committed: c, starts };
    });
  } catch (error) {
    for (const state of states) state.close();
    await Promise.all(producers.map((p) => p.disconnect().catch(() => undefined)));
    throw error;
  }
}

/** The parked inputs of `partitions`, per partition and process, as the committed parked topic holds them. */
export async function loadParked(ctx: Pick<LoadContext<unknown>, 'kafka' | 'codec' | 'restoreTimeoutMs'>, topic: string, partitions: readonly number[]): Promise<Map<number, Map<string, readonly ParkedInput[]>>> {
  const latest = new Map<number, Map<string, ParkedInput>>(partitions.map((p) => [p, new Map()]));
  await readToEnd(
    ctx.kafka,
    [{ topic, partitions }],
    async ({ partition, message }) => {
      const key = message.key?.toString() ?? '';
      const byKey = latest.get(partition);
      if (byKey === undefined || key.startsWith(REQUEST_KEY_PREFIX)) return; // requests are consumed, not restored
      if (message.value === null) {
        byKey.delete(key);
        return;
      }
      const decoded = await ctx.codec.decode(message.value);
      if (decoded.fullName !== PARKED_INPUT) return;
      byKey.set(key, parkedFromRecord(decoded.value));
    },
    { timeoutMs: ctx.restoreTimeoutMs },
  );
  return new Map([...latest].map(([p, byKey]) => [p, groupParked(byKey)]));
}
