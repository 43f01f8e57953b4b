// Metrics of the read side's consumer machinery, labelled by consumer group
// (generic: projectors now, process managers too), and of projections,
// labelled by read model. Groups and read models are a handful per
// deployment; partitions are bounded by the topic's partition count.
import type { Metrics } from '../../../infra/metrics/registry';
import { DURATION_BUCKETS, initialise } from '../../../infra/metrics/registry';

/** Why a message went to the DLQ: a DecodeFailure or `processing-failed`. */
export const DEAD_LETTER_REASONS = ['not-avro', 'unknown-schema-id', 'unknown-record', 'incompatible', 'corrupt', 'processing-failed'] as const;

export function consumerMetrics(metrics: Metrics) {
  return {
    batchMessages: metrics.histogram({
      name: 'restaurant_consumer_batch_messages',
      help: 'Messages per partition batch handed to a consumer group, by group.',
      labelNames: ['group'],
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
    }),
    batchDuration: metrics.histogram({
      name: 'restaurant_consumer_batch_duration_seconds',
      help: 'Time to decode, apply and checkpoint one partition batch, by group.',
      labelNames: ['group'],
      buckets: DURATION_BUCKETS,
    }),
    messages: metrics.counter({
      name: 'restaurant_consumer_messages_total',
      help: 'Messages consumed, by group and result (processed, skipped: a type the group does not handle or a tombstone, dead_lettered).',
      labelNames: ['group', 'result'],
    }),
    retries: metrics.counter({
      name: 'restaurant_consumer_retries_total',
      help: 'Retried attempts after a failure, by group and operation (decode, write, dead_letter).',
      labelNames: ['group', 'operation'],
    }),
    deadLetters: metrics.counter({
      name: 'restaurant_consumer_dead_letters_total',
      help: 'Messages written to a dead-letter topic, by group and reason.',
      labelNames: ['group', 'reason'],
    }),
    rebuilds: metrics.counter({
      name: 'restaurant_consumer_partition_rebuilds_total',
      help: 'Partitions a group started again from the first offset, by group and reason (no_checkpoint: a new or emptied read model; checkpoint_lost: its store lost the checkpoint while running; checkpoint_ahead: the checkpoint is past the end of the partition, the topic was recreated).',
      labelNames: ['group', 'reason'],
    }),
    rebuilding: metrics.gauge({
      name: 'restaurant_consumer_rebuilding_partitions',
      help: 'Partitions this consumer is rebuilding from the first offset and has not caught up on yet, by group.',
      labelNames: ['group'],
    }),
  };
}

export type ConsumerMetrics = ReturnType<typeof consumerMetrics>;

/** Gives every series of a group a value, so a dashboard shows 0 rather than nothing before the first failure. */
export function initialiseConsumer(m: ConsumerMetrics, group: string): void {
  initialise(m.deadLetters, DEAD_LETTER_REASONS.map((reason) => ({ group, reason })));
  initialise(m.retries, ['decode', 'write', 'dead_letter'].map((operation) => ({ group, operation })));
  initialise(m.messages, ['processed', 'skipped', 'dead_lettered'].map((result) => ({ group, result })));
  initialise(m.rebuilds, ['no_checkpoint', 'checkpoint_lost', 'checkpoint_ahead'].map((reason) => ({ group, reason })));
  m.rebuilding.set({ group }, 0);
}

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
