// Metrics of the consumer machinery (event-consumer.ts), labelled by consumer
// group: projectors and the stateful runtime's definitions alike. Groups are a
// handful per deployment.
import type { Metrics } from '../metrics/registry';
import { DURATION_BUCKETS, initialise } from '../metrics/registry';

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
