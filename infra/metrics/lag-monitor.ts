// Consumer lag and dead-letter depth, measured the way `kafka-consumer-groups
// --describe` does: the group's committed offset against the partition's end
// offset, read with the admin API when Prometheus scrapes (at most once a
// second, bounded by a timeout; a failed read keeps the last values and counts
// a failure).
//
// The end offset is the last stable offset (kafkajs lists offsets read-committed):
// what a read-committed consumer can reach. A caught-up consumer reads 0 because
// the runtimes commit past the transaction markers that end most partitions
// (docs/operations.md); Kafka's tool, which reads the high watermark, also counts
// the records of a transaction still open.
//
// Each process reports the groups it runs (its roles say which, and a
// projector that moves to a new keyspace moves its group with it); a group
// whose process is down has no lag series, which the RoleDown alert covers.
import type { Admin, Kafka } from 'kafkajs';
import { dlqTopicName } from '../../schemas/topics';
import type { Logger } from '../logging';
import type { Metrics } from './registry';

export interface ConsumerGroupSource {
  readonly group: string;
  readonly topics: readonly string[];
}

export interface LagMonitorOptions {
  readonly kafka: Kafka;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** The groups to report, asked at every refresh. */
  readonly groups: () => readonly ConsumerGroupSource[];
  /** Longest a refresh may take before the scrape goes on with the last values (default 3000 ms). */
  readonly timeoutMs?: number;
  /** Reuse a refresh younger than this (default 1000 ms), so the two gauges of one scrape share it. */
  readonly maxAgeMs?: number;
}

interface Offsets {
  readonly low: number;
  readonly high: number;
}

export class LagMonitor {
  private admin: Admin | undefined;
  private refreshing: Promise<void> | undefined;
  private refreshedAt = 0;
  private readonly lag;
  private readonly dlq;
  private readonly failures;

  constructor(private readonly options: LagMonitorOptions) {
    const { metrics } = options;
    // Both gauges refresh through the same call; `collect` runs on every scrape.
    const refresh = (): Promise<void> => this.refresh();
    this.lag = metrics.gauge({
      name: 'restaurant_consumer_lag_messages',
      help: "Messages a consumer group has not consumed yet: the partition's end offset minus the group's committed offset.",
      labelNames: ['group', 'topic', 'partition'],
      collect: refresh,
    });
    this.dlq = metrics.gauge({
      name: 'restaurant_dlq_messages',
      help: 'Messages in a dead-letter topic (end offset minus start offset), per dead-letter topic.',
      labelNames: ['topic'],
      collect: refresh,
    });
    this.failures = metrics.counter({
      name: 'restaurant_lag_monitor_failures_total',
      help: 'Lag and dead-letter readings that failed or timed out (the last values were kept).',
    });
  }

  async stop(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await admin?.disconnect();
  }

  private refresh(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    if (Date.now() - this.refreshedAt < (this.options.maxAgeMs ?? 1000)) return Promise.resolve();
    const timeoutMs = this.options.timeoutMs ?? 3000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`reading consumer lag took longer than ${timeoutMs} ms`)), timeoutMs);
    });
    this.refreshing = Promise.race([this.read(), timeout])
      .then(
        () => undefined,
        async (error: unknown) => {
          this.failures.inc();
          this.options.logger.warn({ err: error }, 'could not read consumer lag; keeping the last values');
          await this.stop().catch(() => undefined); // connect afresh next time
        },
      )
      .finally(() => {
        clearTimeout(timer);
        this.refreshedAt = Date.now();
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  private async connected(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.options.kafka.admin();
      await admin.connect();
      this.admin = admin;
    }
    return this.admin;
  }

  private async read(): Promise<void> {
    const sources = this.options.groups();
    if (sources.length === 0) return;
    const admin = await this.connected();
    const ends = new Map<string, Promise<Map<number, Offsets>>>();
    const offsetsOf = (topic: string): Promise<Map<number, Offsets>> => {
      let known = ends.get(topic);
      if (!known) {
        known = admin.fetchTopicOffsets(topic).then((list) => new Map(list.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }])));
        ends.set(topic, known);
      }
      return known;
    };
    const lag: Array<[{ group: string; topic: string; partition: string }, number]> = [];
    for (const { group, topics } of sources) {
      const committed = await admin.fetchOffsets({ groupId: group, topics: [...topics] });
      for (const { topic, partitions } of committed) {
        const marks = await offsetsOf(topic);
        for (const { partition, offset } of partitions) {
          const { low, high } = marks.get(partition) ?? { low: 0, high: 0 };
          const at = Number(offset) >= 0 ? Math.max(Number(offset), low) : low;
          lag.push([{ group, topic, partition: String(partition) }, Math.max(0, high - at)]);
        }
      }
    }
    const dlqTopics = [...new Set(sources.flatMap((s) => s.topics.map(dlqTopicName)))];
    const depths = await Promise.all(
      dlqTopics.map(async (topic): Promise<[string, number] | undefined> => {
        try {
          const marks = await offsetsOf(topic);
          return [topic, [...marks.values()].reduce((sum, o) => sum + (o.high - o.low), 0)];
        } catch {
          return undefined; // no such dead-letter topic (topics:apply creates them with the topics they serve)
        }
      }),
    );
    this.lag.reset();
    for (const [labels, value] of lag) this.lag.set(labels, value);
    this.dlq.reset();
    for (const depth of depths) if (depth) this.dlq.set({ topic: depth[0] }, depth[1]);
  }
}
