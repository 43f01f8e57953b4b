// The provisioned Grafana dashboards' queries, asked of a Prometheus the way
// Grafana asks them: which panels have data. Shared by `npm run observe --
// --check` and test/e2e/observability.test.ts.
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../stack/settings';
import type { RunningPrometheus } from './prometheus';

interface Target {
  readonly expr: string;
  readonly refId?: string;
}
export interface Panel {
  readonly type: string;
  readonly title: string;
  readonly datasource?: { readonly uid?: string };
  readonly targets?: readonly Target[];
  readonly panels?: readonly Panel[];
}
interface Variable {
  readonly name: string;
  readonly type: string;
  readonly query?: string | { readonly query?: string };
  readonly includeAll?: boolean;
  readonly allValue?: string;
}
export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly Panel[];
  readonly templating?: { readonly list: readonly Variable[] };
}

export interface DashboardFile {
  /** Path relative to the repository. */
  readonly file: string;
  readonly dashboard: Dashboard;
}

/** How Grafana would query: the scrape interval ($__rate_interval) and the step of a range query ($__interval). */
export interface QueryTiming {
  readonly scrapeS: number;
  readonly stepS: number;
}

type Doc = Record<string, unknown>;
const readYaml = (file: string): Doc => parse(fs.readFileSync(file, 'utf8')) as Doc;

/** The dashboards Grafana would load: provisioning providers' paths, mapped to the repository through docker-compose's grafana volumes. */
export function provisionedDashboards(): DashboardFile[] {
  const compose = readYaml(path.join(repoRoot, 'docker-compose.yml'));
  const grafana = (compose.services as Record<string, Doc>).grafana as Doc;
  const mounts = (grafana.volumes as string[]).map((v) => v.split(':')).map(([host, container]) => ({ host: path.resolve(repoRoot, host as string), container: container as string }));
  const toHost = (container: string): string => {
    const mount = mounts.find((m) => container === m.container || container.startsWith(`${m.container}/`));
    if (!mount) throw new Error(`docker-compose's grafana mounts nothing at ${container}`);
    return path.join(mount.host, path.relative(mount.container, container));
  };
  const providerDir = path.join(toHost('/etc/grafana/provisioning'), 'dashboards');
  const dirs = fs.readdirSync(providerDir).flatMap((f) => ((readYaml(path.join(providerDir, f)).providers as Doc[]) ?? []).map((p) => toHost(String((p.options as Doc).path))));
  return dirs.flatMap((dir) =>
    fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ file: path.relative(repoRoot, path.join(dir, f)), dashboard: JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Dashboard })),
  );
}

export const panelsOf = (panels: readonly Panel[]): Panel[] => panels.flatMap((p) => [p, ...panelsOf(p.panels ?? [])]);

/** What Grafana sends for a query: its built-in intervals, and each variable at "All" (its allValue) or its first value. */
export function expandQuery(expr: string, variables: ReadonlyMap<string, string>, rangeS: number, timing: QueryTiming): string {
  const rateInterval = Math.max(4 * timing.scrapeS, timing.stepS + timing.scrapeS);
  let out = expr
    .replaceAll('$__rate_interval', `${rateInterval}s`)
    .replaceAll('$__interval', `${timing.stepS}s`)
    .replaceAll('$__range', `${rangeS}s`);
  for (const [name, value] of variables) out = out.replaceAll(`\${${name}}`, value).replaceAll(`[[${name}]]`, value).replace(new RegExp(`\\$${name}\\b`, 'g'), value);
  return out;
}

/** Resolves each query variable as Grafana's Prometheus data source does (label_values(<metric>, <label>)): "All" is its allValue. Waits up to waitMs for values. */
export async function resolveVariables(prom: RunningPrometheus, dashboards: readonly DashboardFile[], waitMs = 60_000): Promise<{ values: Map<string, string>; missing: string[] }> {
  const values = new Map<string, string>();
  const missing: string[] = [];
  for (const { dashboard } of dashboards) {
    for (const variable of dashboard.templating?.list ?? []) {
      if (variable.type !== 'query') continue;
      const definition = typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '');
      const match = /^label_values\((?:(.+),\s*)?(\w+)\)$/.exec(definition.trim());
      if (!match) {
        missing.push(`${dashboard.title} variable $${variable.name}: not label_values(...): ${definition}`);
        continue;
      }
      const [, metric, label] = match;
      const deadline = Date.now() + waitMs;
      let found: string[] = [];
      for (;;) {
        found = await prom.api<string[]>(`label/${label}/values${metric ? `?match[]=${encodeURIComponent(metric)}` : ''}`).catch(() => []);
        if (found.length > 0 || Date.now() >= deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      if (found.length === 0) missing.push(`${dashboard.title} variable $${variable.name}: no values for ${definition}`);
      values.set(variable.name, variable.includeAll ? (variable.allValue ?? '.*') : (found[0] ?? ''));
    }
  }
  return { values, missing };
}

/** Every panel target as a range query from `start` to now: those that fail (`broken`) and those with no data (`empty`), and how many were asked. */
export async function askEveryPanel(
  prom: RunningPrometheus,
  dashboards: readonly DashboardFile[],
  variables: ReadonlyMap<string, string>,
  start: number,
  timing: QueryTiming,
): Promise<{ asked: number; broken: string[]; empty: string[] }> {
  const end = Date.now();
  const rangeS = Math.ceil((end - start) / 1000);
  const broken: string[] = [];
  const empty: string[] = [];
  let asked = 0;
  for (const { file, dashboard } of dashboards) {
    for (const panel of panelsOf(dashboard.panels).filter((p) => p.type !== 'row')) {
      for (const target of panel.targets ?? []) {
        const expr = expandQuery(target.expr, variables, rangeS, timing);
        const where = `${file} "${panel.title}" ${target.refId ?? ''}: ${expr}`;
        asked += 1;
        try {
          if ((await prom.query(expr, { start, end, step: timing.stepS })).length === 0) empty.push(where);
        } catch (error) {
          broken.push(`${(error as Error).message}: ${where}`);
        }
      }
    }
  }
  return { asked, broken, empty };
}
