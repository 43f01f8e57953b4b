// Prometheus for tests: Debian's `prometheus` package (promtool and the
// server; .ci/run installs it). Nothing is mocked: promtool checks the real
// files, and a real server scrapes the real roles. The server is the one
// `npm run observe` runs (infra/observe/prometheus.ts), in a temporary folder.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROMETHEUS_DIR, prometheusBinary, startPrometheus as startServer, type RunningPrometheus, type ScrapeTargets } from '../../infra/observe/prometheus';

export { PROMETHEUS_DIR, type PromResult, type RunningPrometheus, type ScrapeTargets } from '../../infra/observe/prometheus';

export function promtool(args: readonly string[], input?: string): { status: number | null; output: string } {
  const run = spawnSync(prometheusBinary('promtool'), [...args], { encoding: 'utf8', input, cwd: PROMETHEUS_DIR, timeout: 60_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/**
 * Starts a Prometheus on a free port with a copy of infra/prometheus (the
 * real prometheus.yml, alerts and all) whose file_sd target files list the
 * given targets, and a scrape interval of `scrapeIntervalS` seconds.
 */
export async function startPrometheus(targets: ScrapeTargets, scrapeIntervalS = 1): Promise<RunningPrometheus> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prometheus-'));
  const running = await startServer(targets, { dir, scrapeIntervalS });
  return {
    ...running,
    async stop() {
      await running.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
