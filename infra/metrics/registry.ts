// The process's Prometheus registry (docs/operations.md): default Node metrics plus
// the metrics each component declares through a small get-or-create API.
//
// A component declares its metrics in a function of its own that takes the
// registry, e.g. `consumerMetrics(metrics)`; calling it again (five projectors
// in one process, a role restarted in place) returns the same instruments, so
// components never have to know who else runs in the process. Adding a
// component's metrics is one such function; nothing here changes.
//
// Names are checked when declared, so a badly named metric fails at start-up
// and in the unit tests rather than in `promtool check metrics`:
//   * the app prefix `restaurant_`, snake case;
//   * counters end in `_total`, nothing else does;
//   * no histogram name ends in `_bucket`, `_count` or `_sum`;
//   * label names are snake case and never `le` or `quantile`.
// Bounded label values are the declaring component's duty: a label takes a
// command or event type, a read model, a group, a partition number, a reason
// from a fixed list, never an id.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';

export const METRIC_PREFIX = 'restaurant_';

/**
 * prom-client's default metrics that `promtool check metrics` refuses: gauges
 * whose names end in `_total`. Each has a per-type twin without the suffix
 * (`nodejs_active_handles{type}` and so on) that stays.
 */
export const NON_CONFORMING_DEFAULT_METRICS: readonly string[] = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export class MetricDeclarationError extends Error {
  override readonly name = 'MetricDeclarationError';
}

export interface MetricSpec<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly L[];
}

type Kind = 'counter' | 'gauge' | 'histogram';
const SNAKE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

function check(kind: Kind, spec: MetricSpec<string>): void {
  const { name } = spec;
  const fail = (why: string): never => {
    throw new MetricDeclarationError(`metric ${name}: ${why}`);
  };
  if (!name.startsWith(METRIC_PREFIX) || !SNAKE.test(name)) fail(`names are snake case and start with ${METRIC_PREFIX}`);
  if (kind === 'counter' && !name.endsWith('_total')) fail('a counter ends in _total');
  if (kind !== 'counter' && name.endsWith('_total')) fail(`only counters end in _total, this is a ${kind}`);
  if (kind === 'histogram' && /_(bucket|count|sum)$/.test(name)) fail('a histogram name must not end in _bucket, _count or _sum');
  if (spec.help.trim() === '') fail('help text is required');
  for (const label of spec.labelNames ?? []) {
    if (!SNAKE.test(label) || label === 'le' || label === 'quantile') fail(`label "${label}" must be snake case and not le or quantile`);
  }
}

export interface MetricsOptions {
  /** Collect prom-client's default process and Node.js metrics (default true). */
  readonly defaultMetrics?: boolean;
}

/** One registry per process; every role in the process declares its metrics here. */
export class Metrics {
  readonly registry = new Registry();
  private readonly kinds = new Map<string, { kind: Kind; labels: string }>();

  constructor(options: MetricsOptions = {}) {
    if (options.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
      for (const name of NON_CONFORMING_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
    }
  }

  /** `collect` runs at every scrape, e.g. to add what a component counted since the last one. */
  counter<L extends string = never>(spec: MetricSpec<L> & { readonly collect?: (this: Counter<L>) => void | Promise<void> }): Counter<L> {
    return this.declare('counter', spec, () => new Counter<L>({ ...this.config(spec), ...(spec.collect ? { collect: spec.collect } : {}) }));
  }

  gauge<L extends string = never>(spec: MetricSpec<L> & { readonly collect?: (this: Gauge<L>) => void | Promise<void> }): Gauge<L> {
    return this.declare('gauge', spec, () => new Gauge<L>({ ...this.config(spec), ...(spec.collect ? { collect: spec.collect } : {}) }));
  }

  histogram<L extends string = never>(spec: MetricSpec<L> & { readonly buckets: readonly number[] }): Histogram<L> {
    return this.declare('histogram', spec, () => new Histogram<L>({ ...this.config(spec), buckets: [...spec.buckets] }));
  }

  /** The exposition text for GET /metrics. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private config<L extends string>(spec: MetricSpec<L>) {
    return { name: spec.name, help: spec.help, labelNames: [...(spec.labelNames ?? [])], registers: [this.registry] };
  }

  private declare<M extends Metric<string>>(kind: Kind, spec: MetricSpec<string>, create: () => M): M {
    check(kind, spec);
    const labels = [...(spec.labelNames ?? [])].sort().join(',');
    const known = this.kinds.get(spec.name);
    if (known !== undefined) {
      if (known.kind !== kind || known.labels !== labels) {
        throw new MetricDeclarationError(`metric ${spec.name} is already declared as a ${known.kind} with labels [${known.labels}]`);
      }
      return this.registry.getSingleMetric(spec.name) as M;
    }
    if (this.registry.getSingleMetric(spec.name) !== undefined) throw new MetricDeclarationError(`metric ${spec.name} is one of the default metrics`);
    const metric = create();
    this.kinds.set(spec.name, { kind, labels });
    return metric;
  }
}

/** Buckets for durations of requests and batches, in seconds (1 ms to 10 s). */
export const DURATION_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Sets the given label combinations to 0 so their series exist before the first event (rates then read 0, not nothing). */
export function initialise<L extends string>(counter: Counter<L>, combinations: ReadonlyArray<Partial<Record<L, string | number>>>): void {
  for (const labels of combinations) counter.inc(labels, 0);
}
