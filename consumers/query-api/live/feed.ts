// A collection feed: one per live collection (the menu, the kitchen board, the
// courier queue, a customer's orders), shared by every subscriber of it
// (docs/live-updates.md, "Resuming").
//
// Each time the read model's checkpoint moves (a CheckpointWatcher wake-up,
// or a poll in case pub/sub dropped one) the feed reads the collection; if it
// differs from the previous read it appends one change (upserted entries,
// removed ids) numbered seq + 1. It keeps the last `historySize` changes, so a
// subscriber is only a cursor (the last seq it was sent) and a reconnect whose
// Last-Event-ID names a kept change resumes after it. An id is
// `<epoch>.<seq>`, where the epoch is random per feed: an id from another
// query API instance, or from an earlier feed of the same collection, cannot
// be mistaken for a position in this one, and gets a snapshot instead.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../../infra/logging';
import type { ReadModelName } from '../../projections/shared/keys';

export interface CollectionSource<Item> {
  readonly model: ReadModelName;
  /** The entries in display order, without time-dependent fields (they would make every read a change). */
  read(keyspace: string): Promise<readonly Item[]>;
  idOf(item: Item): string;
}

export interface FeedChange<Item> {
  readonly seq: number;
  readonly upserted: readonly Item[];
  readonly removed: readonly string[];
  /** Rendered data per caller kind (roles), so 200 kitchen screens cost one JSON.stringify. */
  readonly rendered: Map<string, string>;
}

export interface FeedSubscriber {
  /** The feed has a change past the subscriber's cursor. */
  notify(): void;
  /** The feed closed (model rebuilding, shutdown, idle): end the stream. */
  end(): void;
}

export interface FeedDeps {
  /** The keyspace serving the model when it is whole, else undefined. */
  readonly servingIfWhole: (model: ReadModelName) => Promise<string | undefined>;
  /** Subscribes to the model's checkpoint notifications in a keyspace; resolves to how to stop. */
  readonly listen: (keyspace: string, model: ReadModelName, wake: () => void) => Promise<() => void>;
  readonly logger: Logger;
  readonly historySize: number;
  readonly pollMs: number;
  /** How long a feed without subscribers keeps following, so a reconnect can still resume. */
  readonly idleMs: number;
  /** Called once when the feed closes. */
  readonly onClosed: () => void;
}

export class CollectionFeed<Item> {
  readonly epoch = randomBytes(6).toString('hex');
  private seq = 0;
  private items: readonly Item[] = [];
  private json = new Map<string, string>();
  private readonly history: FeedChange<Item>[] = [];
  private readonly subscribers = new Set<FeedSubscriber>();
  private reading: Promise<void> | null = null;
  private again = false;
  private keyspace: string | undefined;
  private stopListening: (() => void) | undefined;
  private readonly poll: NodeJS.Timeout;
  private idle: NodeJS.Timeout | undefined;
  private closed = false;
  private started = false;

  constructor(
    private readonly source: CollectionSource<Item>,
    private readonly deps: FeedDeps,
  ) {
    this.poll = setInterval(() => this.wake(), deps.pollMs);
    this.poll.unref();
    // A feed nobody subscribes to (its first client went away while it started) closes like an abandoned one.
    this.armIdle();
  }

  /** The first read; false when the model is not whole or could not be read (the feed is closed then). */
  async start(): Promise<boolean> {
    await this.sync();
    if (!this.started) this.close();
    return !this.closed;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get current(): { readonly seq: number; readonly items: readonly Item[] } {
    return { seq: this.seq, items: this.items };
  }

  idOf(seq: number): string {
    return `${this.epoch}.${seq}`;
  }

  /** The seq a Last-Event-ID resumes after, or null when it cannot (not this feed's, or older than the kept changes). */
  resumeSeq(lastEventId: string): number | null {
    const dot = lastEventId.lastIndexOf('.');
    if (dot <= 0 || lastEventId.slice(0, dot) !== this.epoch) return null;
    const seq = Number(lastEventId.slice(dot + 1));
    if (!Number.isSafeInteger(seq) || seq > this.seq || seq < this.oldestResumable()) return null;
    return seq;
  }

  /** The change numbered `seq`, or undefined when it is no longer kept. */
  changeAt(seq: number): FeedChange<Item> | undefined {
    const first = this.history[0];
    return first === undefined ? undefined : this.history[seq - first.seq];
  }

  subscribe(subscriber: FeedSubscriber): () => void {
    this.subscribers.add(subscriber);
    clearTimeout(this.idle);
    this.idle = undefined;
    return () => {
      this.subscribers.delete(subscriber);
      if (this.subscribers.size === 0) this.armIdle();
    };
  }

  private armIdle(): void {
    if (this.closed) return;
    clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      if (this.subscribers.size === 0) this.close();
    }, this.deps.idleMs);
    this.idle.unref();
  }

  /** Reads again soon (coalesced: at most one read in flight, and one more if woken meanwhile). */
  wake(): void {
    if (this.closed) return;
    if (this.reading !== null) {
      this.again = true;
      return;
    }
    this.reading = this.loop();
  }

  /** Resolves once a read that started after this call has finished (read-your-writes before a first snapshot). */
  sync(): Promise<void> {
    if (this.reading !== null) this.again = true;
    else this.wake();
    return this.reading ?? Promise.resolve();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.poll);
    clearTimeout(this.idle);
    this.stopListening?.();
    for (const subscriber of [...this.subscribers]) subscriber.end();
    this.subscribers.clear();
    this.deps.onClosed();
  }

  private oldestResumable(): number {
    const first = this.history[0];
    return first === undefined ? this.seq : first.seq - 1;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.readOnce();
      } catch (err) {
        // Redis unreachable for a moment: the next wake or poll reads again.
        this.deps.logger.warn({ err, model: this.source.model }, 'live feed could not read its read model; trying again at the next wake');
      }
    } while (this.again && !this.closed);
    this.reading = null;
  }

  private async readOnce(): Promise<void> {
    const { model } = this.source;
    const keyspace = await this.deps.servingIfWhole(model);
    if (keyspace === undefined) return this.close();
    if (keyspace !== this.keyspace) {
      // First read, or a blue/green switch: follow the new keyspace's checkpoint. The diff below
      // turns the switch into an ordinary change.
      this.stopListening?.();
      this.keyspace = keyspace;
      this.stopListening = await this.deps.listen(keyspace, model, () => this.wake());
    }
    const items = await this.source.read(keyspace);
    if (this.closed) return;
    const json = new Map<string, string>();
    const upserted: Item[] = [];
    for (const item of items) {
      const id = this.source.idOf(item);
      const text = JSON.stringify(item);
      json.set(id, text);
      if (this.json.get(id) !== text) upserted.push(item);
    }
    const removed = [...this.json.keys()].filter((id) => !json.has(id));
    const first = !this.started;
    this.started = true;
    this.items = items;
    this.json = json;
    // The first read is the feed's starting state, not a change.
    if (first || (upserted.length === 0 && removed.length === 0)) return;
    this.seq += 1;
    this.history.push({ seq: this.seq, upserted, removed, rendered: new Map() });
    if (this.history.length > this.deps.historySize) this.history.shift();
    for (const subscriber of [...this.subscribers]) subscriber.notify();
  }
}
