// Replay metrics, served by `npm run replay` on its --metrics-port while it
// runs (Prometheus job `replay`; the replays dashboard).
import type { Metrics } from '../../../infra/metrics/registry';
import type { ProgressSnapshot } from './progress';

export function replayMetrics(metrics: Metrics) {
  return {
    progress: metrics.gauge({
      name: 'restaurant_replay_progress_ratio',
      help: 'Share of the offsets a replay set out to read that it has read (1: caught up), by the consumer group it rebuilds.',
      labelNames: ['group'],
    }),
    remaining: metrics.gauge({
      name: 'restaurant_replay_remaining_messages',
      help: 'Offsets a replay still has to read before it has caught up, by group.',
      labelNames: ['group'],
    }),
    eta: metrics.gauge({
      name: 'restaurant_replay_eta_seconds',
      help: 'Estimated time until a replay has caught up, at its recent rate, by group.',
      labelNames: ['group'],
    }),
    events: metrics.counter({
      name: 'restaurant_replay_messages_total',
      help: 'Events a replay has read, by group.',
      labelNames: ['group'],
    }),
  };
}

export type ReplayMetrics = ReturnType<typeof replayMetrics>;

/** Publishes a progress snapshot; `read` is how many events were read since the last one. */
export function recordProgress(m: ReplayMetrics, group: string, p: ProgressSnapshot, read: number): void {
  m.progress.set({ group }, p.ratio);
  m.remaining.set({ group }, p.total - p.done);
  if (p.etaSeconds !== undefined) m.eta.set({ group }, p.etaSeconds);
  m.events.inc({ group }, read);
}
