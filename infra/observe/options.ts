// `npm run observe` options: flags, or the same in the environment.
import { parseArgs } from 'node:util';

export interface ObserveOptions {
  /** Port for Prometheus (127.0.0.1); undefined: 9090 when free, else any free port. */
  readonly port: number | undefined;
  /** Job -> host:port targets (jobs of infra/prometheus/prometheus.yml). */
  readonly targets: Readonly<Record<string, readonly string[]>>;
  /** Scrape interval override in seconds; undefined: prometheus.yml's. */
  readonly scrapeIntervalS: number | undefined;
  /** Ask every dashboard panel's query and report which have data, then exit. */
  readonly check: boolean;
  /** How long --check waits for every panel to have data (ms). */
  readonly checkWaitMs: number;
}

export const OBSERVE_USAGE = `npm run observe -- [--port <n>] [--target <job>=<host:port>]... [--scrape-interval <s>] [--check] [--check-wait <s>]

  --port             Prometheus's port (OBSERVE_PORT; default 9090 when free, else a free one)
  --target           a process to scrape under a job of infra/prometheus/prometheus.yml (repeatable);
                     default all=127.0.0.1:$HEALTH_PORT (npm start; HEALTH_PORT default 9464) and replay=127.0.0.1:9470
  --scrape-interval  seconds between scrapes (OBSERVE_SCRAPE_INTERVAL; default 5; 0 keeps prometheus.yml's 15 s)
  --check            ask every provisioned dashboard panel's query, list those without data, exit 0 when all have data
  --check-wait       how long --check waits for data (seconds, default 180)`;

export const JOBS = ['all', 'gateway', 'command-processor', 'projectors', 'query', 'process-managers', 'replay'] as const;

export class ObserveUsageError extends Error {
  override readonly name = 'ObserveUsageError';
}

function whole(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new ObserveUsageError(`${name} ${JSON.stringify(raw)} must be a whole number from ${min} to ${max}`);
  return value;
}

export function parseObserveOptions(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ObserveOptions {
  let values: { port?: string; target?: string[]; 'scrape-interval'?: string; check?: boolean; 'check-wait'?: string };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { port: { type: 'string' }, target: { type: 'string', multiple: true }, 'scrape-interval': { type: 'string' }, check: { type: 'boolean' }, 'check-wait': { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new ObserveUsageError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  const port = values.port ?? (env.OBSERVE_PORT === '' ? undefined : env.OBSERVE_PORT);
  const interval = values['scrape-interval'] ?? (env.OBSERVE_SCRAPE_INTERVAL === '' ? undefined : env.OBSERVE_SCRAPE_INTERVAL);
  const targets: Record<string, string[]> = {};
  for (const raw of values.target ?? []) {
    const match = /^([a-z-]+)=([^\s=]+:\d{1,5})$/.exec(raw);
    if (match === null) throw new ObserveUsageError(`--target ${JSON.stringify(raw)} is not <job>=<host:port>`);
    const [, job, address] = match as unknown as [string, string, string];
    if (!(JOBS as readonly string[]).includes(job)) throw new ObserveUsageError(`--target job ${JSON.stringify(job)} is not one of ${JOBS.join(', ')}`);
    (targets[job] ??= []).push(address);
  }
  if (Object.keys(targets).length === 0) {
    targets.all = [`127.0.0.1:${env.HEALTH_PORT !== undefined && env.HEALTH_PORT !== '' ? whole('HEALTH_PORT', env.HEALTH_PORT, 1, 65535) : 9464}`];
    targets.replay = ['127.0.0.1:9470'];
  }
  const intervalS = interval === undefined ? 5 : whole('--scrape-interval', interval, 0, 3600);
  return {
    port: port === undefined ? undefined : whole('--port', port, 1, 65535),
    targets,
    scrapeIntervalS: intervalS === 0 ? undefined : intervalS,
    check: values.check === true,
    checkWaitMs: (values['check-wait'] === undefined ? 180 : whole('--check-wait', values['check-wait'], 1, 3600)) * 1000,
  };
}
