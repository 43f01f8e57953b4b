// Process-manager metrics, read from the runtime's stats snapshot when
// Prometheus scrapes (the runtime itself knows nothing of Prometheus):
// processes by state, pending and fired deadlines, failures and retries the
// processes recorded, messages emitted by type, transactions by result,
// parked processes and their parked inputs.
//
// Labels are bounded: `process` is a process manager's name, `state` a status
// of its state machine, `type` a command or event type it emits.
import type { Metrics } from '../../../infra/metrics/registry';
import type { ProcessManagerStats } from './runtime';

/** The snapshots to report, asked at every scrape (a process may run several process managers). */
export type StatsSource = () => readonly ProcessManagerStats[];

/** Counts since start become counter increments: each scrape adds what grew since the last one. */
function deltas(): (key: string, total: number) => number {
  const seen = new Map<string, number>();
  return (key, total) => {
    const before = seen.get(key) ?? 0;
    seen.set(key, total);
    // A runtime restarted in place counts from 0 again: what it counted since is all new.
    return total >= before ? total - before : total;
  };
}

export function processManagerMetrics(metrics: Metrics, source: StatsSource): void {
  const grown = deltas();
  metrics.gauge({
    name: 'restaurant_process_instances',
    help: 'Processes held by the process-manager runtimes of this process, by process manager and state (the state machine status).',
    labelNames: ['process', 'state'],
    collect() {
      this.reset();
      for (const s of source()) for (const [state, n] of Object.entries(s.instancesByState)) this.set({ process: s.name, state }, n);
    },
  });
  metrics.gauge({
    name: 'restaurant_process_deadlines_pending',
    help: 'Deadlines in the states of the processes owned here (payment and refund timeouts, scheduled answers), by process manager.',
    labelNames: ['process'],
    collect() {
      for (const s of source()) this.set({ process: s.name }, s.pendingDeadlines);
    },
  });
  metrics.gauge({
    name: 'restaurant_process_deadlines_waiting_for_inputs',
    help: 'Due deadlines held back until the inputs already in the log when they came due are decided, by process manager.',
    labelNames: ['process'],
    collect() {
      for (const s of source()) this.set({ process: s.name }, s.deadlinesWaitingForInputs);
    },
  });
  metrics.gauge({
    name: 'restaurant_process_parked',
    help: 'Processes parked on the partitions owned here (an input dead-lettered; their later inputs recorded, not decided, until a redrive or skip), by process manager.',
    labelNames: ['process'],
    collect() {
      for (const s of source()) this.set({ process: s.name }, s.parkedProcesses);
    },
  });
  metrics.gauge({
    name: 'restaurant_process_parked_inputs',
    help: 'Inputs parked in those processes (the dead-lettered heads and the inputs behind them): what a redrive would decide, by process manager.',
    labelNames: ['process'],
    collect() {
      for (const s of source()) this.set({ process: s.name }, s.parkedInputs);
    },
  });
  const counted = <L extends string>(name: string, help: string, labelNames: readonly L[], each: (s: ProcessManagerStats) => ReadonlyArray<[Record<L, string>, number]>) =>
    metrics.counter<L>({
      name,
      help,
      labelNames,
      collect() {
        for (const s of source()) {
          for (const [labels, total] of each(s)) {
            const delta = grown(`${name}|${JSON.stringify(labels)}`, total);
            if (delta > 0) this.inc(labels, delta);
            else this.inc(labels, 0);
          }
        }
      },
    });
  counted('restaurant_process_deadlines_fired_total', 'Deadlines that fired and changed their process, by process manager.', ['process'], (s) => [[{ process: s.name }, s.deadlinesFired]]);
  counted('restaurant_process_failures_total', 'Failures the processes recorded (payment declined or timed out, checks failed, refunds failed), by process manager.', ['process'], (s) => [
    [{ process: s.name }, s.processFailures],
  ]);
  counted('restaurant_process_retries_total', 'Steps the processes retried on purpose (a payment or refund asked again after its deadline), by process manager.', ['process'], (s) => [
    [{ process: s.name }, s.processRetries],
  ]);
  counted('restaurant_process_messages_emitted_total', 'Commands and events the processes emitted, by process manager and message type.', ['process', 'type'], (s) =>
    Object.entries(s.messagesEmittedByType).map(([type, n]) => [{ process: s.name, type }, n]),
  );
  counted('restaurant_process_transactions_total', 'Process-manager transactions, by process manager and result (committed, failed: aborted and retried after a restore).', ['process', 'result'], (s) => [
    [{ process: s.name, result: 'committed' }, s.transactions],
    [{ process: s.name, result: 'failed' }, s.transactionsFailed],
  ]);
  counted('restaurant_process_restores_total', 'Partitions whose processes were restored from the changelog (on assignment, or after a failed transaction), by process manager.', ['process'], (s) => [
    [{ process: s.name }, s.restores],
  ]);
}
