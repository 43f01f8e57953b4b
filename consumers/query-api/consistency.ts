// Read-your-writes on the query side: wait (bounded) until a read model's
// Redis checkpoint has passed the positions in a consistency token.
//
// The projector's batch script publishes every checkpoint it moves on the
// checkpoint hash's own name (`PUBLISH <checkpoint key> <topic:partition>=<offset>`).
// A CheckpointWatcher subscribes to the channels of the models it has been
// asked about (once, on a connection of its own), and wakes a waiting query
// the moment its positions are passed, instead of each query polling the hash.
// Pub/sub can drop messages (a reconnect), so a waiting query also reads the
// hash itself every `pollMs`, and once more when its time is up.
import type Redis from 'ioredis';
import { parseCheckpoint } from '../projections/runtime/redis-batch';
import { checkpointKey, type ReadModelName } from '../projections/shared/keys';
import { positionsBehind, type Position } from '../../schemas/consistency-token';

export interface WaitResult {
  readonly reached: boolean;
  readonly waitedMs: number;
  /** Positions still not reached (empty when reached). */
  readonly behind: readonly Position[];
}

type Checkpoint = Map<string, Map<number, number>>;

interface Waiter {
  readonly positions: readonly Position[];
  readonly wake: () => void;
}

/** Moves `into` forward with `from` (checkpoints only go forward). */
function merge(into: Checkpoint, from: ReadonlyMap<string, ReadonlyMap<number, number>>): void {
  for (const [topic, partitions] of from) {
    const known = into.get(topic) ?? new Map<number, number>();
    for (const [partition, offset] of partitions) if (offset > (known.get(partition) ?? -1)) known.set(partition, offset);
    into.set(topic, known);
  }
}

export class CheckpointWatcher {
  /** Channel (= checkpoint key) -> the furthest checkpoint seen. */
  private readonly seen = new Map<string, Checkpoint>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly subscribed = new Map<string, Promise<void>>();
  private readonly listeners = new Map<string, Set<() => void>>();

  constructor(
    private readonly redis: Redis,
    /** A connection of the watcher's own, which it puts in subscriber mode. */
    private readonly subscriber: Redis,
    private readonly pollMs = 250,
  ) {
    subscriber.on('message', (channel: string, message: string) => this.onMessage(channel, message));
  }

  /**
   * Waits until every position on a topic the model reads is passed, or
   * `timeoutMs` runs out. Positions on topics the model does not read are
   * ignored (a menu token asks nothing of the orders model).
   */
  async waitFor(keyspace: string, model: ReadModelName, modelTopics: readonly string[], positions: readonly Position[], timeoutMs: number): Promise<WaitResult> {
    const relevant = positions.filter((p) => modelTopics.includes(p.topic));
    const started = Date.now();
    if (relevant.length === 0) return { reached: true, waitedMs: 0, behind: [] };
    const channel = checkpointKey(keyspace, model);
    // Subscribed before reading the hash: a checkpoint moved in between is not missed.
    await this.subscribe(channel);
    const seen = this.seen.get(channel) ?? new Map();
    this.seen.set(channel, seen);
    const read = async (): Promise<readonly Position[]> => {
      merge(seen, parseCheckpoint(await this.redis.hgetall(channel)));
      return positionsBehind(relevant, seen);
    };
    let behind = await read();
    while (behind.length > 0) {
      const left = timeoutMs - (Date.now() - started);
      if (left <= 0) break;
      await new Promise<void>((resolve) => {
        const waiter: Waiter = { positions: relevant, wake: () => done() };
        const timer = setTimeout(() => done(), Math.min(this.pollMs, left));
        const done = (): void => {
          clearTimeout(timer);
          this.waiters.get(channel)?.delete(waiter);
          resolve();
        };
        const list = this.waiters.get(channel) ?? new Set<Waiter>();
        list.add(waiter);
        this.waiters.set(channel, list);
      });
      behind = positionsBehind(relevant, seen);
      if (behind.length > 0) behind = await read();
    }
    return { reached: behind.length === 0, waitedMs: Date.now() - started, behind };
  }

  /**
   * Calls `listener` every time the projector of `model` in `keyspace` moves
   * its checkpoint (the live streams' wake-up). Pub/sub can drop a message, so
   * a listener also polls on its own. Returns how to stop listening.
   */
  async listen(keyspace: string, model: ReadModelName, listener: () => void): Promise<() => void> {
    const channel = checkpointKey(keyspace, model);
    const list = this.listeners.get(channel) ?? new Set<() => void>();
    list.add(listener);
    this.listeners.set(channel, list);
    await this.subscribe(channel);
    return () => {
      list.delete(listener);
      if (list.size === 0) this.listeners.delete(channel);
    };
  }

  async close(): Promise<void> {
    for (const list of this.waiters.values()) for (const w of [...list]) w.wake();
    await this.subscriber.quit().catch(() => undefined);
  }

  private subscribe(channel: string): Promise<void> {
    let done = this.subscribed.get(channel);
    if (done === undefined) {
      done = this.subscriber.subscribe(channel).then(
        () => undefined,
        (error: unknown) => {
          this.subscribed.delete(channel); // try again next time; meanwhile the waits poll
          throw error;
        },
      );
      this.subscribed.set(channel, done);
    }
    return done.catch(() => undefined);
  }

  /** `<topic>:<partition>=<offset>`: a checkpoint the projector has just written. */
  private onMessage(channel: string, message: string): void {
    const eq = message.lastIndexOf('=');
    const colon = message.lastIndexOf(':', eq);
    const topic = message.slice(0, colon);
    const partition = Number(message.slice(colon + 1, eq));
    const offset = Number(message.slice(eq + 1));
    if (colon <= 0 || !Number.isInteger(partition) || !Number.isSafeInteger(offset)) return;
    const seen = this.seen.get(channel) ?? new Map();
    this.seen.set(channel, seen);
    merge(seen, new Map([[topic, new Map([[partition, offset]])]]));
    for (const waiter of [...(this.waiters.get(channel) ?? [])]) {
      if (positionsBehind(waiter.positions, seen).length === 0) waiter.wake();
    }
    for (const listener of [...(this.listeners.get(channel) ?? [])]) listener();
  }
}
