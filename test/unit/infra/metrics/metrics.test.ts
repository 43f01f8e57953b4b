// The metrics registry: names are checked when declared, a component that
// declares its metrics twice gets the same instruments, and the default Node
// metrics leave out the three that promtool refuses.
import { gatewayMetrics } from '../../../../producers/gateway/metrics';
import { commandMetricRecorder } from '../../../../producers/command-processor/metrics';
import { consumerMetrics, initialiseConsumer } from '../../../../infra/consuming/consumer-metrics';
import { MetricDeclarationError, Metrics, NON_CONFORMING_DEFAULT_METRICS } from '../../../../infra/metrics/registry';
import { processManagerMetrics } from '../../../../consumers/process-managers/runtime/metrics';
import type { ProcessManagerStats } from '../../../../consumers/process-managers/runtime/runtime';

describe('Metrics', () => {
  it.each([
    ['a counter without _total', () => new Metrics({ defaultMetrics: false }).counter({ name: 'restaurant_commands', help: 'h' })],
    ['a gauge with _total', () => new Metrics({ defaultMetrics: false }).gauge({ name: 'restaurant_lag_total', help: 'h' })],
    ['no app prefix', () => new Metrics({ defaultMetrics: false }).counter({ name: 'commands_total', help: 'h' })],
    ['camel case', () => new Metrics({ defaultMetrics: false }).gauge({ name: 'restaurant_consumerLag', help: 'h' })],
    ['a histogram named like its series', () => new Metrics({ defaultMetrics: false }).histogram({ name: 'restaurant_batch_count', help: 'h', buckets: [1] })],
    ['the label le', () => new Metrics({ defaultMetrics: false }).histogram({ name: 'restaurant_batch_seconds', help: 'h', labelNames: ['le'], buckets: [1] })],
    ['an empty help text', () => new Metrics({ defaultMetrics: false }).gauge({ name: 'restaurant_lag_messages', help: ' ' })],
  ])('refuses %s', (_what, declare) => {
    expect(declare).toThrow(MetricDeclarationError);
  });

  it('returns the same instrument to a second declaration, and refuses a different one under the same name', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const first = consumerMetrics(metrics);
    const second = consumerMetrics(metrics);
    expect(second.messages).toBe(first.messages);
    first.messages.inc({ group: 'g', result: 'processed' }, 2);
    second.messages.inc({ group: 'g', result: 'processed' }, 3);
    expect(await metrics.text()).toContain('restaurant_consumer_messages_total{group="g",result="processed"} 5');
    expect(() => metrics.gauge({ name: 'restaurant_consumer_batch_messages', help: 'h', labelNames: ['group'] })).toThrow(/already declared as a histogram/);
    expect(() => metrics.counter({ name: 'restaurant_consumer_messages_total', help: 'h', labelNames: ['group'] })).toThrow(/labels \[group,result\]/);
  });

  it('collects the default Node metrics without the gauges named *_total', async () => {
    const text = await new Metrics().text();
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
    for (const name of NON_CONFORMING_DEFAULT_METRICS) expect(text).not.toContain(`# TYPE ${name} `);
  });

  it('gives a consumer group every failure series at 0 before its first failure', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    initialiseConsumer(consumerMetrics(metrics), 'restaurant.projection.menu');
    const text = await metrics.text();
    expect(text).toContain('restaurant_consumer_dead_letters_total{group="restaurant.projection.menu",reason="not-avro"} 0');
    expect(text).toContain('restaurant_consumer_retries_total{group="restaurant.projection.menu",operation="write"} 0');
    expect(text).toContain('restaurant_consumer_rebuilding_partitions{group="restaurant.projection.menu"} 0');
  });
});

describe('command-processor metrics', () => {
  it('counts commands by type and outcome, events by type, latencies, transaction durations and transactions by result', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const m = commandMetricRecorder(metrics);
    m.processed('order', 'PlaceOrder', 'accepted');
    m.processed('order', 'CancelOrder', 'rejected');
    m.processed('order', 'PlaceOrder', 'duplicate');
    m.processed('order', 'unknown', 'dead_lettered', 2);
    m.event('order', 'OrderPlaced');
    m.latency('order', 0.25);
    m.latency('order', 0.01);
    m.transactionDuration('all', 0.02);
    m.transaction('all', 'committed', 3);
    m.transaction('all', 'failed');
    const text = await metrics.text();
    expect(text).toContain('restaurant_commands_processed_total{aggregate="order",command="PlaceOrder",outcome="accepted"} 1');
    expect(text).toContain('restaurant_commands_processed_total{aggregate="order",command="CancelOrder",outcome="rejected"} 1');
    expect(text).toContain('restaurant_commands_processed_total{aggregate="order",command="PlaceOrder",outcome="duplicate"} 1');
    expect(text).toContain('restaurant_commands_processed_total{aggregate="order",command="unknown",outcome="dead_lettered"} 2');
    expect(text).toContain('restaurant_events_written_total{aggregate="order",event="OrderPlaced"} 1');
    expect(text).toContain('restaurant_command_latency_seconds_sum{aggregate="order"} 0.26');
    expect(text).toContain('restaurant_command_transaction_duration_seconds_count{aggregate="all"} 1');
    expect(text).toContain('restaurant_command_transactions_total{aggregate="all",result="committed"} 3');
    expect(text).toContain('restaurant_command_transactions_total{aggregate="all",result="failed"} 1');
  });
});

describe('gateway metrics', () => {
  it('declare command counts by type and outcome and a latency histogram by type', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const m = gatewayMetrics(metrics);
    m.commands.inc({ command: 'PlaceOrder', outcome: 'pending' });
    m.duration.observe({ command: 'PlaceOrder' }, 5);
    const text = await metrics.text();
    expect(text).toContain('restaurant_gateway_commands_total{command="PlaceOrder",outcome="pending"} 1');
    expect(text).toContain('restaurant_gateway_command_duration_seconds_bucket{le="5",command="PlaceOrder"} 1');
  });
});

describe('process-manager metrics', () => {
  const stats = (over: Partial<ProcessManagerStats>): ProcessManagerStats => ({
    name: 'order-fulfilment',
    groupId: 'restaurant.process-manager.order-fulfilment',
    partitions: [0, 1],
    instances: 5,
    instancesByState: { AWAITING_PAYMENT: 2, COMPLETED: 3 },
    pendingDeadlines: 2,
    deadlinesWaitingForInputs: 0,
    deadlinesFired: 0,
    inputsDecided: 10,
    inputsChanged: 8,
    messagesEmitted: 4,
    messagesEmittedByType: { PaymentRequested: 4 },
    processFailures: 1,
    processRetries: 0,
    transactions: 6,
    transactionsFailed: 0,
    restores: 2,
    deadLettered: 0,
    parkedProcesses: 1,
    parkedInputs: 3,
    parked: [],
    ...over,
  });

  it('reports the runtimes’ snapshots at each scrape: states as gauges, counts since start as counters', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    let current = [stats({})];
    processManagerMetrics(metrics, () => current);
    const first = await metrics.text();
    expect(first).toContain('restaurant_process_instances{process="order-fulfilment",state="AWAITING_PAYMENT"} 2');
    expect(first).toContain('restaurant_process_deadlines_pending{process="order-fulfilment"} 2');
    expect(first).toContain('restaurant_process_messages_emitted_total{process="order-fulfilment",type="PaymentRequested"} 4');
    expect(first).toContain('restaurant_process_transactions_total{process="order-fulfilment",result="failed"} 0');

    // Counts grow; a state that emptied disappears instead of staying at its last value.
    current = [stats({ instancesByState: { COMPLETED: 5 }, messagesEmittedByType: { PaymentRequested: 4, ConfirmOrder: 2 }, transactions: 9 })];
    const second = await metrics.text();
    expect(second).not.toContain('state="AWAITING_PAYMENT"');
    expect(second).toContain('restaurant_process_transactions_total{process="order-fulfilment",result="committed"} 9');
    expect(second).toContain('restaurant_process_messages_emitted_total{process="order-fulfilment",type="ConfirmOrder"} 2');

    // A runtime restarted in place counts from 0 again: the counter keeps going up.
    current = [stats({ transactions: 1 })];
    expect(await metrics.text()).toContain('restaurant_process_transactions_total{process="order-fulfilment",result="committed"} 10');
  });
});
