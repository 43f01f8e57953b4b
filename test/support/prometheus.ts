// Prometheus for tests: Debian's `prometheus` package (promtool and the
// server; .ci/run installs it). Nothing is mocked: promtool checks the real
// files, and a real server scrapes the real roles.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { repoRoot } from '../../infra/stack/settings';
import { freePort } from './roles';

export const PROMETHEUS_DIR = path.join(repoRoot, 'infra', 'prometheus');

function binary(name: 'promtool' | 'prometheus'): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  if (found === '') throw new Error(`${name} is not installed: install Debian's prometheus package (apt-get install prometheus), as .ci/run does`);
  return found;
}

export function promtool(args: readonly string[], input?: string): { status: number | null; output: string } {
  const run = spawnSync(binary('promtool'), [...args], { encoding: 'utf8', input, cwd: PROMETHEUS_DIR, timeout: 60_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

export interface ScrapeTargets {
  /** Job name (as in infra/prometheus/prometheus.yml) -> host:port targets. */
  readonly [job: string]: readonly string[];
}

export interface RunningPrometheus {
  readonly url: string;
  readonly dir: string;
  /** Instant or range query; throws on an error answer. */
  query(expr: string, range?: { readonly start: number; readonly end: number; readonly step: number }): Promise<PromResult[]>;
  /** GET /api/v1/<path> answer's data. */
  api<T>(pathAndQuery: string): Promise<T>;
  stop(): Promise<void>;
}

export interface PromResult {
  readonly metric: Record<string, string>;
  readonly value?: [number, string];
  readonly values?: Array<[number, string]>;
}

/**
 * Starts a Prometheus on a free port with a copy of infra/prometheus (the
 * real prometheus.yml, alerts and all) whose file_sd target files list the
 * given targets, and a scrape interval of `scrapeIntervalS` seconds.
 */
export async function startPrometheus(targets: ScrapeTargets, scrapeIntervalS = 1): Promise<RunningPrometheus> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prometheus-'));
  fs.cpSync(PROMETHEUS_DIR, path.join(dir, 'config'), { recursive: true });
  const configFile = path.join(dir, 'config', 'prometheus.yml');
  const config = parse(fs.readFileSync(configFile, 'utf8')) as {
    global: Record<string, string>;
    scrape_configs: Array<{ job_name: string; scrape_interval?: string; file_sd_configs?: Array<{ files: string[] }> }>;
  };
  config.global.scrape_interval = `${scrapeIntervalS}s`;
  config.global.evaluation_interval = `${scrapeIntervalS}s`;
  config.global.scrape_timeout = `${scrapeIntervalS}s`;
  for (const job of config.scrape_configs) {
    delete job.scrape_interval;
    for (const file of (job.file_sd_configs ?? []).flatMap((f) => f.files)) {
      const list = targets[job.job_name] ?? [];
      fs.writeFileSync(path.join(dir, 'config', file), stringify(list.length === 0 ? [] : [{ targets: list }]));
    }
  }
  fs.writeFileSync(configFile, stringify(config));
  const port = await freePort();
  const child: ChildProcess = spawn(
    binary('prometheus'),
    [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
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
    dir,
    api,
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
      child.kill('SIGTERM');
      await new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
