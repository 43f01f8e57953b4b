// Command-side metrics of the processor: commands decided by type and
// outcome, events written by aggregate and type, and how long commands took
// from the gateway's write to the commit of their transaction. The processor
// calls this at two points (a transaction committed, a transaction failed) and
// knows nothing else about Prometheus.
import { DURATION_BUCKETS, type Metrics } from '../../infra/metrics/registry';
import type { Handled } from './handle';

/** What one committed transaction decided. */
export interface TransactionReport {
  readonly aggregate: string;
  readonly handled: readonly Handled[];
  /** Commands that could not be decoded and went to the DLQ in the same transaction. */
  readonly deadLettered: number;
  /** Kafka timestamps (epoch ms) of the command records the transaction consumed. */
  readonly commandTimestamps: readonly number[];
  /** Time spent deciding and writing the transaction. */
  readonly seconds: number;
}

export interface CommandProcessorMetrics {
  committed(report: TransactionReport): void;
  failed(aggregate: string): void;
}

/** Aggregates the processor holds, by aggregate type, read when Prometheus scrapes: in its on-disk stores, and of them decoded in memory (bounded). */
export function heldAggregatesMetric(metrics: Metrics, held: () => ReadonlyMap<string, { readonly held: number; readonly decoded: number }>): void {
  metrics.gauge({
    name: 'restaurant_command_aggregates',
    help: 'Aggregates the command processor holds, by aggregate type and form: held (in its on-disk stores), decoded (the recently used, in memory).',
    labelNames: ['aggregate', 'form'],
    collect() {
      this.reset();
      for (const [aggregate, counts] of held()) {
        this.set({ aggregate, form: 'held' }, counts.held);
        this.set({ aggregate, form: 'decoded' }, counts.decoded);
      }
    },
  });
}

/** Aggregates parked behind a dead-lettered command (parking.ts), by aggregate type, read when Prometheus scrapes. */
export function parkedAggregatesMetric(metrics: Metrics, parked: () => ReadonlyMap<string, { readonly aggregates: number; readonly commands: number }>): void {
  metrics.gauge({
    name: 'restaurant_command_parked_aggregates',
    help: 'Aggregates parked on the command partitions owned here (a command dead-lettered; their later commands answered aggregate_parked, not decided, until a redrive or skip), by aggregate type.',
    labelNames: ['aggregate'],
    collect() {
      this.reset();
      for (const [aggregate, counts] of parked()) this.set({ aggregate }, counts.aggregates);
    },
  });
  metrics.gauge({
    name: 'restaurant_command_parked_commands',
    help: 'Commands parked in those aggregates (the dead-lettered heads and any dead-lettered behind them): what a redrive would decide, by aggregate type.',
    labelNames: ['aggregate'],
    collect() {
      this.reset();
      for (const [aggregate, counts] of parked()) this.set({ aggregate }, counts.commands);
    },
  });
}

/** `accepted`, `rejected` (a business rule), `duplicate` (a repeated commandId), `dead_lettered` (undecodable). */
export const PROCESSED_OUTCOMES = ['accepted', 'rejected', 'duplicate', 'dead_lettered'] as const;

/** The command metrics written one at a time: what the processor on the runtime (runtime-metrics.ts) feeds, and what commandProcessorMetrics writes with. */
export interface CommandMetricRecorder {
  processed(aggregate: string, command: string, outcome: (typeof PROCESSED_OUTCOMES)[number], n?: number): void;
  event(aggregate: string, event: string): void;
  latency(aggregate: string, seconds: number): void;
  transactionDuration(aggregate: string, seconds: number): void;
  transaction(aggregate: string, result: 'committed' | 'failed', n?: number): void;
}

export function commandMetricRecorder(metrics: Metrics): CommandMetricRecorder {
  const processed = metrics.counter({
    name: 'restaurant_commands_processed_total',
    help: 'Commands decided by the command processor, by aggregate, command type and outcome (accepted, rejected, duplicate, dead_lettered).',
    labelNames: ['aggregate', 'command', 'outcome'],
  });
  const events = metrics.counter({
    name: 'restaurant_events_written_total',
    help: 'Events written to the events topics in committed transactions, by aggregate and event type.',
    labelNames: ['aggregate', 'event'],
  });
  const latency = metrics.histogram({
    name: 'restaurant_command_latency_seconds',
    help: 'Time from a command record being written by the gateway to the commit of the transaction that decided it, by aggregate.',
    labelNames: ['aggregate'],
    buckets: [...DURATION_BUCKETS, 30, 60],
  });
  const transactionDuration = metrics.histogram({
    name: 'restaurant_command_transaction_duration_seconds',
    help: 'Time to decide a batch of commands and commit its transaction, by aggregate.',
    labelNames: ['aggregate'],
    buckets: DURATION_BUCKETS,
  });
  const transactions = metrics.counter({
    name: 'restaurant_command_transactions_total',
    help: 'Command-processor transactions, by aggregate and result (committed, failed).',
    labelNames: ['aggregate', 'result'],
  });
  return {
    processed: (aggregate, command, outcome, n = 1) => processed.inc({ aggregate, command, outcome }, n),
    event: (aggregate, event) => events.inc({ aggregate, event }),
    latency: (aggregate, seconds) => latency.observe({ aggregate }, seconds),
    transactionDuration: (aggregate, seconds) => transactionDuration.observe({ aggregate }, seconds),
    transaction: (aggregate, result, n = 1) => transactions.inc({ aggregate, result }, n),
  };
}

export function commandProcessorMetrics(metrics: Metrics, clock: () => number = Date.now): CommandProcessorMetrics {
  const record = commandMetricRecorder(metrics);
  return {
    committed({ aggregate, handled, deadLettered, commandTimestamps, seconds }) {
      const now = clock();
      record.transaction(aggregate, 'committed');
      record.transactionDuration(aggregate, seconds);
      for (const h of handled) {
        const outcome = h.duplicate ? 'duplicate' : h.reply.status === 'REJECTED' ? 'rejected' : 'accepted';
        record.processed(aggregate, h.reply.commandType, outcome);
        for (const event of h.events) record.event(aggregate, event.type);
      }
      if (deadLettered > 0) record.processed(aggregate, 'unknown', 'dead_lettered', deadLettered);
      for (const at of commandTimestamps) if (Number.isFinite(at)) record.latency(aggregate, Math.max(0, now - at) / 1000);
    },
    failed(aggregate) {
      record.transaction(aggregate, 'failed');
    },
  };
}
