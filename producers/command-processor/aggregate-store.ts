// The aggregates of one command partition, as the processor holds them in
// memory: every aggregate as the bytes of its latest snapshot (exactly what the
// snapshot topic holds), and only the most recently used ones also decoded.
//
// Decoded, a small order with its reply memory takes about 2.3 KB of heap
// (objects, and the same topic names and ids repeated in every reply); its
// snapshot bytes, kept as a one-byte string, a tenth of that. A processor
// owning a hundred thousand aggregates holds them in tens of megabytes instead
// of hundreds, and restoring a partition no longer decodes every snapshot:
// an aggregate is decoded when a command for it arrives, then stays decoded
// while it is among the `capacity` most recently used.
import type { CommandReply } from '../../schemas/generated/types';
import type { AvroCodec } from '../../infra/kafka/codec';
import type { AggregateRuntime } from './aggregates';
import type { AggregateEntry } from './handle';

/** Decoded aggregates kept per command partition by default. */
export const DEFAULT_DECODED_CAPACITY = 500;

export class AggregateStore {
  /** Snapshot bytes (Confluent wire format) as latin1 strings: compact in V8's heap, and never a view pinning a fetch buffer. */
  private readonly snapshots = new Map<string, string>();
  /** Most recently used last. */
  private readonly decoded = new Map<string, AggregateEntry>();

  constructor(
    private readonly runtime: AggregateRuntime,
    private readonly codec: AvroCodec,
    private readonly capacity = DEFAULT_DECODED_CAPACITY,
  ) {}

  /** Aggregates held. */
  get size(): number {
    return this.snapshots.size;
  }

  /** Decoded aggregates held (at most the capacity). */
  get decodedSize(): number {
    return this.decoded.size;
  }

  /** The latest snapshot of `id` as read from the snapshot topic (copied, not kept as a view of the fetch buffer). */
  restore(id: string, snapshot: Buffer): void {
    this.snapshots.set(id, snapshot.toString('latin1'));
    this.decoded.delete(id);
  }

  delete(id: string): void {
    this.snapshots.delete(id);
    this.decoded.delete(id);
  }

  async get(id: string): Promise<AggregateEntry | undefined> {
    const hot = this.decoded.get(id);
    if (hot !== undefined) {
      this.use(id, hot);
      return hot;
    }
    const bytes = this.snapshots.get(id);
    if (bytes === undefined) return undefined;
    const snapshot = (await this.codec.decode(Buffer.from(bytes, 'latin1'))).value as { recentCommands?: CommandReply[] };
    const restored = this.runtime.fromSnapshot(snapshot);
    const entry: AggregateEntry = { version: restored.version, state: restored.state, recentCommands: snapshot.recentCommands ?? [] };
    this.use(id, entry);
    return entry;
  }

  /** After a commit: the entry as decided, and the snapshot written for it (none when the aggregate has nothing to persist). */
  set(id: string, entry: AggregateEntry, snapshot: Buffer | undefined): void {
    if (snapshot === undefined) this.snapshots.delete(id);
    else this.snapshots.set(id, snapshot.toString('latin1'));
    this.use(id, entry);
  }

  private use(id: string, entry: AggregateEntry): void {
    this.decoded.delete(id);
    this.decoded.set(id, entry);
    if (this.decoded.size > this.capacity) {
      const oldest = this.decoded.keys().next();
      if (oldest.done !== true) this.decoded.delete(oldest.value);
    }
  }
}
