// The live streams' shared state in one query API process: a feed per live
// collection, created by its first subscriber and closed when idle, and every
// open stream, so shutdown can end them (an open stream would otherwise keep
// the HTTP server from closing).
import type { Logger } from '../../../infra/logging';
import type { ReadModelName } from '../../projections/shared/keys';
import { CollectionFeed, type CollectionSource } from './feed';
import type { SseStream } from './sse';

export interface LiveSettings {
  readonly heartbeatMs: number;
  /** Changes a feed keeps for resuming. */
  readonly historySize: number;
  /** Reads a feed makes without a wake-up, in case pub/sub dropped one. */
  readonly pollMs: number;
  /** How long a feed without subscribers keeps following. */
  readonly idleMs: number;
}

export const LIVE_DEFAULTS: LiveSettings = { heartbeatMs: 15_000, historySize: 1024, pollMs: 1_000, idleMs: 60_000 };

export interface LiveHubDeps {
  readonly servingIfWhole: (model: ReadModelName) => Promise<string | undefined>;
  readonly listen: (keyspace: string, model: ReadModelName, wake: () => void) => Promise<() => void>;
  readonly logger: Logger;
  readonly settings?: Partial<LiveSettings>;
}

export class LiveHub {
  readonly settings: LiveSettings;
  private readonly feeds = new Map<string, Promise<CollectionFeed<unknown>>>();
  private readonly streams = new Set<SseStream>();

  constructor(private readonly deps: LiveHubDeps) {
    this.settings = { ...LIVE_DEFAULTS, ...deps.settings };
  }

  /** The live feed named `key`, started on first use; undefined while its model is not whole. */
  async feed<Item>(key: string, source: CollectionSource<Item>): Promise<CollectionFeed<Item> | undefined> {
    let pending = this.feeds.get(key);
    if (pending === undefined) {
      const feed: CollectionFeed<Item> = new CollectionFeed(source, {
        ...this.deps,
        ...this.settings,
        onClosed: () => {
          if (this.feeds.get(key) === pending) this.feeds.delete(key);
        },
      });
      pending = feed.start().then(() => feed as CollectionFeed<unknown>);
      this.feeds.set(key, pending);
    }
    const feed = (await pending) as CollectionFeed<Item>;
    return feed.isClosed ? undefined : feed;
  }

  /** Tracks an open stream until it closes. */
  track(stream: SseStream): void {
    this.streams.add(stream);
    stream.onClose(() => this.streams.delete(stream));
  }

  get openStreams(): number {
    return this.streams.size;
  }

  get openFeeds(): number {
    return this.feeds.size;
  }

  /** Ends every stream and closes every feed. */
  async close(): Promise<void> {
    for (const stream of [...this.streams]) stream.end();
    const feeds = await Promise.all([...this.feeds.values()].map((p) => p.catch(() => undefined)));
    for (const feed of feeds) feed?.close();
    this.feeds.clear();
  }
}
