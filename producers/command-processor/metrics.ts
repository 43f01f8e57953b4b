// Command-side metrics of the processor: commands decided by type and
// outcome, events written by aggregate and type, how long commands took from
// the gateway's write to their decision, and the processor's transactions.
// runtime-metrics.ts feeds them from the command definitions' decisions and the
// runtime's stats; this file knows Prometheus, the processor does not.
import { DURATION_BUCKETS, type Metrics } from '../../infra/metrics/registry';

/** Aggregates the processor holds in its on-disk stores, by aggregate type, read when Prometheus scrapes. */
export function heldAggregatesMetric(metrics: Metrics, held: () => ReadonlyMap<string, { readonly held: number }>): void {
  metrics.gauge({
    name: 'restaurant_command_aggregates',
    help: 'Aggregates the command processor holds in its on-disk stores on the partitions owned here, by aggregate type (form="held", the only form).',
    labelNames: ['aggregate', 'form'],
    collect() {
      this.reset();
      for (const [aggregate, counts] of held()) {
        this.set({ aggregate, form: 'held' }, counts.held);
      }
    },
  });
}

/** Aggregates parked behind a dead-lettered command (docs/command-side.md "Parked aggregates"), by aggregate type, read when Prometheus scrapes. */
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

/** The command metrics written one at a time: what the processor (runtime-metrics.ts) feeds. */
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
    help: 'Time from a command being issued by the gateway (its issuedAt) to its decision, by aggregate.',
    labelNames: ['aggregate'],
    buckets: [...DURATION_BUCKETS, 30, 60],
  });
  const transactionDuration = metrics.histogram({
    name: 'restaurant_command_transaction_duration_seconds',
    help: 'Time from the start of a round of decisions to the commit of its transaction (aggregate="all": a transaction spans the aggregate types of its partitions).',
    labelNames: ['aggregate'],
    buckets: DURATION_BUCKETS,
  });
  const transactions = metrics.counter({
    name: 'restaurant_command_transactions_total',
    help: 'Command-processor transactions, by result (committed, failed), under aggregate="all" (a transaction spans the aggregate types of its partitions).',
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
