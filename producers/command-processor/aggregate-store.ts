// The aggregates of one command partition, on disk: a cache of its snapshot
// partition (`restaurant.<aggregate>.snapshots` partition p, compacted, key =
// aggregate id) in the better-sqlite3 store of infra/state (docs/state-stores.md),
// with the snapshot offset it reflects. Opening it applies only what the
// snapshot partition holds past that offset (all of it when the store is
// missing, damaged, or from another changelog epoch); only the `capacity` most
// recently used aggregates are kept decoded in memory, the rest are read from
// the store when a command needs them (a few µs).
//
// An aggregate's snapshot carries its duplicate memory (its last 64 replies),
// so a repeated commandId is answered from the store whatever was evicted.
// Every snapshot is stamped with its aggregate's fold version
// (`fold-version` header, `foldVersion` in aggregates.ts); a partition whose
// states were folded by another version is refused (StaleFoldError).
//
// The store is written only after the transaction that wrote the snapshots
// committed, with the snapshot offset after them (partition-worker.ts): it
// never holds a state the committed log does not.
import type { Kafka } from 'kafkajs';
import type { CommandCheckpoint } from '../../schemas/generated/types';
import type { AvroCodec } from '../../infra/kafka/codec';
import type { Change } from '../../infra/state/changelog-restore';
import type { StateStore } from '../../infra/state/state-store';
import { openStamped, resolvedDecoder, resolvingSchemas, StaleFoldError } from '../../infra/stateful/stamped-store';
import { CHECKPOINT_LABEL } from '../../infra/stateful/position-store';
import type { AggregateRuntime } from './aggregates';
import type { AggregateEntry } from './handle';
import { entryOfSnapshot } from './command-records';

/** Decoded aggregates kept per command partition by default. */
export const DEFAULT_DECODED_CAPACITY = 500;

export const CHECKPOINT_RECORD = 'restaurant.common.CommandCheckpoint';
export const CHECKPOINT_KEY_PREFIX = '@checkpoint/';
/** The key of a processor group's checkpoint in a snapshot partition (compaction keeps the latest). No aggregate id starts with '@'. */
export const checkpointKey = (groupId: string): string => `${CHECKPOINT_KEY_PREFIX}${groupId}`;

/**
 * Store rows that are aggregates carry this label; checkpoints carry the
 * stateful runtime's CHECKPOINT_LABEL, so either engine, opening a store the
 * other wrote (docs/command-side.md "The processor on the runtime (opt-in)"),
 * counts its checkpoints apart. The aggregates are the rows that are not
 * checkpoints (the runtime labels its states by status), checkpoints labelled
 * as this processor did before both used one label included.
 */
const AGGREGATE_LABEL = 'aggregate';
const OLD_CHECKPOINT_LABEL = 'checkpoint';

/** The aggregates a store holds: its rows less its checkpoints. */
function aggregatesIn(store: StateStore<AggregateEntry>): number {
  const labels = store.labelCounts();
  return store.size() - (labels.get(CHECKPOINT_LABEL) ?? 0) - (labels.get(OLD_CHECKPOINT_LABEL) ?? 0);
}

export interface OpenAggregateStore {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly runtime: AggregateRuntime;
  /** The store's directory (one per snapshot partition). */
  readonly dir: string;
  /** Physical snapshots topic and partition. */
  readonly topic: string;
  readonly partition: number;
  /** The snapshot topics' incarnation (STATE_CHANGELOG_EPOCH). */
  readonly epoch: string;
  /** The processor group whose checkpoint is read. */
  readonly groupId: string;
  readonly capacity?: number;
  readonly timeoutMs?: number;
  readonly fetchBytes?: number;
  readonly onProgress?: (offset: number) => Promise<void>;
}

export interface Opened {
  readonly store: AggregateStore;
  /** The group's checkpoint stored in the partition (`@checkpoint/<group>`), decoded; undefined for none. */
  readonly checkpoint: CommandCheckpoint | undefined;
  readonly restore: { readonly from: number; readonly to: number; readonly records: number; readonly ms: number; readonly rebuilt: string | undefined };
}

export const foldVersionOf = (runtime: Pick<AggregateRuntime, 'foldVersion'>): number => runtime.foldVersion ?? 1;

export class AggregateStore {
  private constructor(
    private readonly store: StateStore<AggregateEntry>,
    private readonly runtime: AggregateRuntime,
    private readonly codec: AvroCodec,
    private aggregates: number,
  ) {}

  /** Opens the partition's store and brings it to the snapshot partition's end; throws StaleFoldError on states of another fold version. */
  static async open(o: OpenAggregateStore): Promise<Opened> {
    const { runtime, codec } = o;
    const foldVersion = foldVersionOf(runtime);
    const opened = await openStamped<AggregateEntry>({
      kafka: o.kafka,
      dir: o.dir,
      identity: { topic: o.topic, partition: o.partition, epoch: o.epoch, foldVersion },
      decode: entryDecoder(codec, runtime),
      decodedCapacity: o.capacity ?? DEFAULT_DECODED_CAPACITY,
      // Checkpoints are positions, not states: stamped with this build's version and never refused.
      isState: (key) => !key.startsWith(CHECKPOINT_KEY_PREFIX),
      row: (change) => ({ ...change, summary: { label: change.key.startsWith(CHECKPOINT_KEY_PREFIX) ? CHECKPOINT_LABEL : AGGREGATE_LABEL, due: null } }),
      refusal: (why) => snapshotsRefusal(runtime.aggregate, { ...why, changelog: o.topic, partition: o.partition, foldVersion }),
      ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }),
      ...(o.fetchBytes === undefined ? {} : { fetchBytes: o.fetchBytes }),
      ...(o.onProgress === undefined ? {} : { onProgress: o.onProgress }),
    });
    const { store } = opened;
    let checkpoint: CommandCheckpoint | undefined;
    const stored = store.getEntry(checkpointKey(o.groupId));
    if (stored !== undefined) {
      const decoded = await codec.decode(stored.value);
      if (decoded.fullName === CHECKPOINT_RECORD) checkpoint = decoded.value as CommandCheckpoint;
    }
    return {
      store: new AggregateStore(store, runtime, codec, aggregatesIn(store)),
      checkpoint,
      restore: { ...opened.restore, rebuilt: opened.rebuilt },
    };
  }

  /** Aggregates stored. */
  get size(): number {
    return this.aggregates;
  }

  /** Decoded aggregates held (at most the capacity). */
  get decodedSize(): number {
    return this.store.decodedCount();
  }

  /** The offset after the last snapshot record the store holds. */
  get offset(): number {
    return this.store.reflectsOffset();
  }

  async get(id: string): Promise<AggregateEntry | undefined> {
    // A writer schema this process has not met yet is resolved (async), and the entry decoded again.
    return resolvingSchemas(this.codec, () => {
      const found = this.store.get(id);
      if (found.kind === 'absent') return undefined;
      if (found.kind === 'found') return found.state;
      throw new StaleFoldError(
        `command processor: the snapshot of ${id} was folded by fold version ${found.foldVersion}, this build's ${this.runtime.aggregate} fold is version ${foldVersionOf(this.runtime)}. ${rebuildAdvice(this.runtime.aggregate)}`,
      );
    });
  }

  /**
   * After a commit: the snapshots written (and the decided entries, kept
   * decoded) and the checkpoint, with the snapshot offset after them. An
   * aggregate with nothing to persist wrote no snapshot and keeps none.
   */
  committed(written: ReadonlyMap<string, { readonly entry: AggregateEntry; readonly snapshot: Buffer | undefined }>, checkpoint: { readonly key: string; readonly value: Buffer }, offset: number): void {
    const foldVersion = foldVersionOf(this.runtime);
    const rows: Change[] = [];
    const decoded = new Map<string, AggregateEntry>();
    for (const [id, { entry, snapshot }] of written) {
      if (snapshot === undefined) continue;
      if (this.store.getEntry(id) === undefined) this.aggregates += 1;
      rows.push({ key: id, value: snapshot, foldVersion, summary: { label: AGGREGATE_LABEL, due: null } });
      decoded.set(id, entry);
    }
    rows.push({ key: checkpoint.key, value: checkpoint.value, foldVersion, summary: { label: CHECKPOINT_LABEL, due: null } });
    this.store.apply(rows, offset, decoded);
  }

  close(): void {
    this.store.close();
  }
}

/** What the operator does about snapshots of another fold version (docs/command-side.md "Fold versions"). */
export const rebuildAdvice = (aggregate: string): string =>
  `Stop every command processor, run \`npm run snapshots:rebuild -- ${aggregate}\` (rebuilds the snapshots from the events topic with this build's fold), ` +
  'then start this build with a new STATE_CHANGELOG_EPOCH (docs/command-side.md "Fold versions").';

/** Where and why a partition's snapshots are refused: the stored snapshots of another fold version (`stored`), or `count` snapshots of others (`versions`). */
export type SnapshotsRefusal = { readonly changelog: string; readonly partition: number; readonly foldVersion: number } & (
  | { readonly kind: 'store'; readonly stored: number }
  | { readonly kind: 'records'; readonly count: number; readonly versions: readonly number[] }
);

/** The processor's refusal of a snapshots partition folded by another fold version, with the rebuild advice; either engine's (the command definition's `foldRefusal`). */
export const snapshotsRefusal = (aggregate: string, why: SnapshotsRefusal): string =>
  `command processor: ${why.kind === 'store' ? 'the stored snapshots' : `${why.count} snapshot(s)`} of ${why.changelog}[${why.partition}] folded by fold version ${why.kind === 'store' ? why.stored : why.versions.join(', ')}, ` +
  `this build's ${aggregate} fold is version ${why.foldVersion}; deciding on them would decide on stale state. ${rebuildAdvice(aggregate)}`;

/** The store's decoder of an aggregate's snapshots (UnresolvedSchemaError for a writer schema not resolved yet). */
function entryDecoder(codec: AvroCodec, runtime: AggregateRuntime): (bytes: Buffer, key: string) => AggregateEntry {
  return resolvedDecoder(codec, runtime.snapshotRecord, 'snapshot', (value) => entryOfSnapshot(runtime, value));
}
