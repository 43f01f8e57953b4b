// A Prometheus server (Debian's `prometheus` package, or any on the PATH) run
// with the project's own infra/prometheus: its prometheus.yml, alert rules and
// jobs; only the file_sd target files are written for the processes to scrape.
// Used by `npm run observe` (observe-cli.ts) and by the tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { repoRoot } from '../stack/settings';

export const PROMETHEUS_DIR = path.join(repoRoot, 'infra', 'prometheus');

export function prometheusBinary(name: 'promtool' | 'prometheus'): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  if (found === '') throw new Error(`${name} is not installed: install Debian's prometheus package (sudo apt-get install prometheus) or put a Prometheus 2.x ${name} on the PATH`);
  return found;
}

export interface ScrapeTargets {
  /** Job name (as in infra/prometheus/prometheus.yml) -> host:port targets. */
  readonly [job: string]: readonly string[];
}

export interface PromResult {
  readonly metric: Record<string, string>;
  readonly value?: [number, string];
  readonly values?: Array<[number, string]>;
}

export interface RunningPrometheus {
  readonly url: string;
  /** Where its configuration and data are. */
  readonly dir: string;
  readonly child: ChildProcess;
  /** Instant or range query (times in ms); throws on an error answer. */
  query(expr: string, range?: { readonly start: number; readonly end: number; readonly step: number }): Promise<PromResult[]>;
  /** GET /api/v1/<path> answer's data. */
  api<T>(pathAndQuery: string): Promise<T>;
  /** The latest output of the server (its own log). */
  output(): string;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** Where the configuration copy and the data go (created if missing). */
  readonly dir: string;
  /** Port to listen on (127.0.0.1); 0 or undefined: a free one. */
  readonly port?: number;
  /** Overrides the configured scrape and evaluation interval (seconds); undefined: prometheus.yml's. */
  readonly scrapeIntervalS?: number;
  /** Prometheus's own log level (default warn). */
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

export async function freeLocalPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** True when nothing listens on 127.0.0.1:port. */
export async function portIsFree(port: number): Promise<boolean> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Writes a copy of infra/prometheus into `<dir>/config` whose target files list `targets`; returns the prometheus.yml path. */
export function writePrometheusConfig(dir: string, targets: ScrapeTargets, scrapeIntervalS?: number): string {
  const configDir = path.join(dir, 'config');
  fs.rmSync(configDir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.cpSync(PROMETHEUS_DIR, configDir, { recursive: true });
  const configFile = path.join(configDir, 'prometheus.yml');
  const config = parse(fs.readFileSync(configFile, 'utf8')) as {
    global: Record<string, string>;
    scrape_configs: Array<{ job_name: string; scrape_interval?: string; file_sd_configs?: Array<{ files: string[] }> }>;
  };
  if (scrapeIntervalS !== undefined) {
    config.global.scrape_interval = `${scrapeIntervalS}s`;
    config.global.evaluation_interval = `${scrapeIntervalS}s`;
    config.global.scrape_timeout = `${scrapeIntervalS}s`;
  }
  for (const job of config.scrape_configs) {
    if (scrapeIntervalS !== undefined) delete job.scrape_interval;
    for (const file of (job.file_sd_configs ?? []).flatMap((f) => f.files)) {
      const list = targets[job.job_name] ?? [];
      fs.writeFileSync(path.join(configDir, file), stringify(list.length === 0 ? [] : [{ targets: list }]));
    }
  }
  fs.writeFileSync(configFile, stringify(config));
  return configFile;
}

/** Starts Prometheus with the project's configuration scraping `targets`, and waits until it is ready. */
export async function startPrometheus(targets: ScrapeTargets, options: PrometheusOptions): Promise<RunningPrometheus> {
  const configFile = writePrometheusConfig(options.dir, targets, options.scrapeIntervalS);
  const port = options.port === undefined || options.port === 0 ? await freeLocalPort() : options.port;
  const child: ChildProcess = spawn(
    prometheusBinary('prometheus'),
    [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(options.dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, `--log.level=${options.logLevel ?? 'warn'}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-10_000)));
  child.stderr?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-10_000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${log}`);
    const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`prometheus did not become ready within 30 s:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  async function api<T>(pathAndQuery: string, init?: RequestInit): Promise<T> {
    const res = await fetch(`${url}/api/v1/${pathAndQuery}`, { ...init, signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`prometheus: ${body.errorType ?? 'error'}: ${body.error ?? res.status}`);
    return body.data;
  }
  return {
    url,
    dir: options.dir,
    child,
    api,
    output: () => log,
    async query(expr, range) {
      const form = new URLSearchParams({ query: expr });
      if (range) {
        form.set('start', String(range.start / 1000));
        form.set('end', String(range.end / 1000));
        form.set('step', `${range.step}s`);
      }
      const data = await api<{ result: PromResult[] }>(range ? 'query_range' : 'query', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      });
      return data.result;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
      }
    },
  };
}
