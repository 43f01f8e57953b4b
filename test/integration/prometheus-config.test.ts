/**
 * promtool (Debian's prometheus package) against the real files:
 * `check config` and `check rules` on infra/prometheus, the alert rules' unit
 * tests, and `check metrics` on everything the app's components declare.
 * The live roles' /metrics go through `check metrics` too, in
 * test/e2e/observability.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { logLevel } from 'kafkajs';
import { projectionMetrics, reportParked } from '../../consumers/projections/runtime/metrics';
import { processManagerMetrics } from '../../consumers/process-managers/runtime/metrics';
import { consumerMetrics, initialiseConsumer } from '../../infra/consuming/consumer-metrics';
import { replayMetrics } from '../../consumers/projections/replay/metrics';
import { rootLogger } from '../../infra/logging';
import { httpMetrics } from '../../infra/metrics/http';
import { LagMonitor } from '../../infra/metrics/lag-monitor';
import { Metrics } from '../../infra/metrics/registry';
import { commandMetricRecorder } from '../../producers/command-processor/metrics';
import { gatewayMetrics } from '../../producers/gateway/metrics';
import { testKafka } from '../support/kafka';
import { PROMETHEUS_DIR, promtool } from '../support/prometheus';

describe('promtool', () => {
  it('accepts the scrape configuration, with every file it names', () => {
    const result = promtool(['check', 'config', 'prometheus.yml']);
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('accepts every alert rule', () => {
    const groups = (parse(fs.readFileSync(path.join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8')) as { groups: Array<{ rules: unknown[] }> }).groups;
    const rules = groups.flatMap((g) => g.rules).length;
    const result = promtool(['check', 'rules', 'alerts.yml']);
    expect(result.output).toContain(`SUCCESS: ${rules} rules found`);
    expect(result.status).toBe(0);
  });

  it('passes the alert rules’ unit tests, which test every alert', () => {
    const tested = new Set(fs.readFileSync(path.join(PROMETHEUS_DIR, 'tests', 'alerts_test.yml'), 'utf8').match(/alertname: \w+/g)?.map((m) => m.slice('alertname: '.length)));
    const alerts = (parse(fs.readFileSync(path.join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert?: string }> }> }).groups.flatMap((g) =>
      g.rules.map((r) => r.alert),
    );
    expect(alerts.filter((a) => a !== undefined && !tested.has(a))).toEqual([]);
    const result = promtool(['test', 'rules', 'tests/alerts_test.yml']);
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('finds nothing to say about the metrics every component declares', async () => {
    const metrics = new Metrics();
    const group = 'restaurant.projection.menu';
    const consumer = consumerMetrics(metrics);
    initialiseConsumer(consumer, group);
    consumer.batchMessages.observe({ group }, 12);
    consumer.batchDuration.observe({ group }, 0.004);
    const projection = projectionMetrics(metrics);
    projection.events.inc({ read_model: 'menu', result: 'applied' });
    projection.lag.observe({ read_model: 'menu' }, 0.2);
    const unreport = reportParked(metrics, { readModel: 'orders', keyspace: 'live', parkedAggregates: () => Promise.resolve(2) });
    gatewayMetrics(metrics).commands.inc({ command: 'AddMenuItem', outcome: 'accepted' });
    gatewayMetrics(metrics).duration.observe({ command: 'AddMenuItem' }, 0.01);
    commandMetricRecorder(metrics).transaction('all', 'failed');
    const http = httpMetrics(metrics);
    http.requests.inc({ server: 'query', method: 'GET', route: '/menu', code: '200' });
    http.duration.observe({ server: 'query', method: 'GET', route: '/menu' }, 0.002);
    const replay = replayMetrics(metrics);
    replay.progress.set({ group }, 0.5);
    replay.events.inc({ group }, 10);
    processManagerMetrics(metrics, () => [
      {
        name: 'order-fulfilment',
        groupId: 'restaurant.process-manager.order-fulfilment',
        partitions: [0],
        instances: 2,
        instancesByState: { AWAITING_PAYMENT: 2 },
        pendingDeadlines: 2,
        deadlinesWaitingForInputs: 0,
        deadlinesFired: 0,
        inputsDecided: 3,
        inputsChanged: 2,
        messagesEmitted: 2,
        messagesEmittedByType: { PaymentRequested: 2 },
        processFailures: 0,
        processRetries: 0,
        transactions: 2,
        transactionsFailed: 0,
        restores: 1,
        deadLettered: 1,
        parkedProcesses: 1,
        parkedInputs: 2,
        parked: [],
      },
    ]);
    const lag = new LagMonitor({ kafka: testKafka('it-promtool', logLevel.NOTHING), metrics, logger: rootLogger, groups: () => [] });
    const text = await metrics.text();
    await lag.stop();
    expect(text).toContain('restaurant_consumer_lag_messages');
    expect(text).toContain('restaurant_replay_progress_ratio');
    expect(text).toContain('restaurant_process_parked{process="order-fulfilment"} 1');
    expect(text).toContain('restaurant_process_parked_inputs{process="order-fulfilment"} 2');
    expect(text).toContain('restaurant_projection_parked_aggregates{read_model="orders",keyspace="live"} 2');
    unreport();
    const result = promtool(['check', 'metrics'], text);
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  it('would say something about a badly named metric (so the check above can fail)', () => {
    const result = promtool(['check', 'metrics'], '# HELP restaurant_lag_total Lag.\n# TYPE restaurant_lag_total gauge\nrestaurant_lag_total 3\n');
    expect(result.output).toContain('non-counter metrics should not have "_total" suffix');
    expect(result.status).not.toBe(0);
  });
});
