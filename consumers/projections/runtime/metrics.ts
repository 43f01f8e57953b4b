// Metrics of projections, labelled by read model (the consumer machinery's own,
// by consumer group, are in infra/consuming/consumer-metrics.ts). Read models
// are a handful per deployment; partitions are bounded by the topic's
// partition count.
import type { Metrics } from '../../../infra/metrics/registry';

export function projectionMetrics(metrics: Metrics) {
  return {
    events: metrics.counter({
      name: 'restaurant_projection_events_total',
      help: 'Events written to a read model, by read model and result (applied; skipped by the version guard as already applied; parked: recorded behind a dead-lettered event of their aggregate, not applied).',
      labelNames: ['read_model', 'result'],
    }),
    lag: metrics.histogram({
      name: 'restaurant_projection_lag_seconds',
      help: 'Time from an event occurring to its batch being written to the read model, by read model.',
      labelNames: ['read_model'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400],
    }),
  };
}

export type ProjectionMetrics = ReturnType<typeof projectionMetrics>;

/** A read model whose parked aggregates are counted at scrape time. */
export interface ParkedSource {
  readonly readModel: string;
  readonly keyspace: string;
  /** Parked aggregates now (one HLEN). */
  parkedAggregates(): Promise<number>;
}

const parkedSources = new WeakMap<Metrics, Set<ParkedSource>>();

/**
 * Counts `source`'s parked aggregates in `restaurant_projection_parked_aggregates`
 * at every scrape until the returned function is called (the projector stops).
 * Read from Redis, not counted in the process: a redrive (`npm run dlq`)
 * unparks from another process.
 */
export function reportParked(metrics: Metrics, source: ParkedSource): () => void {
  let sources = parkedSources.get(metrics);
  if (sources === undefined) {
    const all = new Set<ParkedSource>();
    sources = all;
    parkedSources.set(metrics, all);
    metrics.gauge({
      name: 'restaurant_projection_parked_aggregates',
      help: 'Aggregates parked in a read model (an event dead-lettered, their later events recorded and not applied until a redrive), by read model and keyspace.',
      labelNames: ['read_model', 'keyspace'],
      async collect() {
        this.reset();
        await Promise.all(
          [...all].map(async (s) => {
            try {
              this.set({ read_model: s.readModel, keyspace: s.keyspace }, await s.parkedAggregates());
            } catch {
              // Redis is down: no series this scrape (RedisDown covers it)
            }
          }),
        );
      },
    });
  }
  sources.add(source);
  return () => sources.delete(source);
}
