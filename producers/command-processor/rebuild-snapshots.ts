// Rebuilding an aggregate's snapshots from its events topic with this build's
// fold (docs/command-side.md "Fold versions"): what to run after a change to a
// fold that changes what its snapshots mean, before the processors of the new
// build start (they refuse snapshots of another fold version).
//
// Every aggregate's events (the events topic keeps every version: it is
// compacted on `<id>/<version>` keys) are folded with this build's `evolve`
// from the initial state; its new snapshot is the fold's result at the last
// version, with the duplicate memory (the remembered replies) of its current
// snapshot, which no fold changes, stamped with the build's fold version. The
// processor's checkpoints in the snapshot topic are left as they are.
//
// Run it with every processor of the group stopped: a processor deciding
// meanwhile would write snapshots this rebuild then overwrites.
import type { Kafka } from 'kafkajs';
import type { CommandReply, EventMetadata } from '../../schemas/generated/types';
import { partitionFor } from '../../schemas/partitioning';
import type { AvroCodec } from '../../infra/kafka/codec';
import { readToEnd } from '../../infra/kafka/read-to-end';
import { FOLD_VERSION_HEADER } from '../../infra/state/changelog-restore';
import { CHECKPOINT_KEY_PREFIX } from '../../infra/stateful/position-store';
import { foldVersionOf } from './fold-version';
import type { AggregateRuntime } from './aggregates';

export interface RebuildTopics {
  readonly events: string;
  readonly snapshots: string;
  readonly partitions: number;
}

export interface Rebuilt {
  readonly aggregates: number;
  readonly events: number;
  readonly foldVersion: number;
}

interface Folded {
  version: number;
  state: unknown;
}

export async function rebuildSnapshots(kafka: Kafka, codec: AvroCodec, runtime: AggregateRuntime, topics: RebuildTopics): Promise<Rebuilt> {
  const folded = new Map<string, Folded>();
  const pending = new Map<string, Array<{ readonly version: number; readonly type: string; readonly data: object }>>();
  let events = 0;
  await readToEnd(kafka, [{ topic: topics.events }], async ({ message }) => {
    if (message.value === null) return;
    const decoded = await codec.decode(message.value);
    const { metadata, ...data } = decoded.value as { metadata: EventMetadata } & Record<string, unknown>;
    const type = decoded.fullName.slice(runtime.namespace.length + 1);
    const list = pending.get(metadata.aggregateId) ?? [];
    list.push({ version: metadata.version, type, data });
    pending.set(metadata.aggregateId, list);
    events += 1;
  });
  for (const [id, list] of pending) {
    // In version order (a partition holds them in order; sorting makes the fold independent of how they were read).
    list.sort((a, b) => a.version - b.version);
    let state = runtime.initialState;
    let version = 0;
    for (const event of list) {
      if (event.version !== version + 1) throw new Error(`${topics.events}: ${id} has version ${event.version} after ${version}; the events topic is not whole`);
      state = runtime.evolve(state, { type: event.type, data: event.data });
      version = event.version;
    }
    folded.set(id, { version, state });
  }

  // The duplicate memory of each aggregate's current snapshot.
  const replies = new Map<string, readonly CommandReply[]>();
  await readToEnd(kafka, [{ topic: topics.snapshots }], async ({ message }) => {
    const id = message.key?.toString() ?? '';
    if (id.startsWith(CHECKPOINT_KEY_PREFIX)) return;
    if (message.value === null) {
      replies.delete(id);
      return;
    }
    const decoded = await codec.decode(message.value);
    replies.set(id, (decoded.value as { recentCommands?: CommandReply[] }).recentCommands ?? []);
  });

  const foldVersion = String(foldVersionOf(runtime));
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const messages = [];
    for (const [id, { version, state }] of folded) {
      const domain = runtime.toSnapshot(id, version, state);
      if (domain === null) continue;
      const value = await codec.encode(topics.snapshots, runtime.snapshotRecord, { ...domain, recentCommands: replies.get(id) ?? [] });
      messages.push({ key: id, value, partition: partitionFor(id, topics.partitions), headers: { [FOLD_VERSION_HEADER]: foldVersion } });
    }
    for (let i = 0; i < messages.length; i += 500) await producer.send({ topic: topics.snapshots, acks: -1, messages: messages.slice(i, i + 500) });
    return { aggregates: messages.length, events, foldVersion: Number(foldVersion) };
  } finally {
    await producer.disconnect();
  }
}
