/**
 * The dashboards against a real Prometheus (Debian's package) scraping the
 * real roles under load, with the repository's own prometheus.yml and alert
 * rules (only the target files point at this run's ports):
 * * every panel of every dashboard Grafana would load (found as Grafana finds
 *   them: the provisioning folder's providers, their paths mapped back through
 *   docker-compose's volumes) parses and returns data over the test's time
 *   range, as Grafana's range queries would; so does every variable's query;
 * * every alert rule evaluates without error on live data;
 * * every role's /metrics passes `promtool check metrics`.
 * A dashboard added later is covered without touching this test; its roles
 * join ROLES below.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { Role } from '../../infra/app/roles';
import { repoRoot } from '../../infra/stack/settings';
import { projectionGroupId } from '../../consumers/projections/runtime/read-models';
import { call } from '../support/http';
import { testKafka, testRedis, unique, waitFor, withAdmin } from '../support/kafka';
import { runReplay, smallLoad, type Finished } from '../support/operations';
import { promtool, startPrometheus, type RunningPrometheus } from '../support/prometheus';
import { dropKeys } from '../support/read-side';
import { freePort, startRole, type RoleProcess } from '../support/roles';

jest.setTimeout(300_000);

/** The roles this test runs, each under its Prometheus job. */
const ROLES: ReadonlyArray<{ readonly role: Role; readonly job: string }> = [
  { role: 'command-processor', job: 'command-processor' },
  { role: 'gateway', job: 'gateway' },
  { role: 'projectors', job: 'projectors' },
  { role: 'query', job: 'query' },
  { role: 'process-managers', job: 'process-managers' },
  { role: 'payment-simulator', job: 'process-managers' },
];
const SCRAPE_S = 1;
const STEP_S = 2;

interface Target {
  readonly expr: string;
  readonly refId?: string;
}
interface Panel {
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
interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly Panel[];
  readonly templating?: { readonly list: readonly Variable[] };
}

type Doc = Record<string, unknown>;
const readYaml = (file: string): Doc => parse(fs.readFileSync(file, 'utf8')) as Doc;

/** The dashboards Grafana would load: provisioning providers' paths, mapped to the repository through docker-compose's grafana volumes. */
function provisionedDashboards(): Array<{ file: string; dashboard: Dashboard }> {
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

const panelsOf = (panels: readonly Panel[]): Panel[] => panels.flatMap((p) => [p, ...panelsOf(p.panels ?? [])]);

/** What Grafana sends for a query: its built-in intervals, and each variable at "All" (its allValue) or its first value. */
function expand(expr: string, variables: ReadonlyMap<string, string>, rangeS: number): string {
  const rateInterval = Math.max(4 * SCRAPE_S, STEP_S + SCRAPE_S);
  let out = expr
    .replaceAll('$__rate_interval', `${rateInterval}s`)
    .replaceAll('$__interval', `${STEP_S}s`)
    .replaceAll('$__range', `${rangeS}s`);
  for (const [name, value] of variables) out = out.replaceAll(`\${${name}}`, value).replaceAll(`[[${name}]]`, value).replace(new RegExp(`\\$${name}\\b`, 'g'), value);
  return out;
}

/** Resolves each query variable as Grafana's Prometheus data source does (label_values(<metric>, <label>)): "All" is its allValue. */
async function resolveVariables(prom: RunningPrometheus, dashboards: ReadonlyArray<{ dashboard: Dashboard }>): Promise<{ values: Map<string, string>; missing: string[] }> {
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
      const found = await waitFor(
        `values of $${variable.name}`,
        async () => {
          const list = await prom.api<string[]>(`label/${label}/values${metric ? `?match[]=${encodeURIComponent(metric)}` : ''}`);
          return list.length > 0 ? list : undefined;
        },
        60_000,
        500,
      ).catch(() => [] as string[]);
      if (found.length === 0) missing.push(`${dashboard.title} variable $${variable.name}: no values for ${definition}`);
      values.set(variable.name, variable.includeAll ? (variable.allValue ?? '.*') : (found[0] ?? ''));
    }
  }
  return { values, missing };
}

/** Every panel target as a range query from `start` to now: those that fail (`broken`) and those with no data (`empty`). */
async function askEveryPanel(prom: RunningPrometheus, dashboards: ReadonlyArray<{ file: string; dashboard: Dashboard }>, variables: ReadonlyMap<string, string>, start: number): Promise<{ broken: string[]; empty: string[] }> {
  const end = Date.now();
  const rangeS = Math.ceil((end - start) / 1000);
  const broken: string[] = [];
  const empty: string[] = [];
  for (const { file, dashboard } of dashboards) {
    for (const panel of panelsOf(dashboard.panels).filter((p) => p.type !== 'row')) {
      for (const target of panel.targets ?? []) {
        const expr = expand(target.expr, variables, rangeS);
        const where = `${file} "${panel.title}" ${target.refId ?? ''}: ${expr}`;
        try {
          if ((await prom.query(expr, { start, end, step: STEP_S })).length === 0) empty.push(where);
        } catch (error) {
          broken.push(`${(error as Error).message}: ${where}`);
        }
      }
    }
  }
  return { broken, empty };
}

const kafka = testKafka('e2e-observability');
const keyspace = unique('obs').toLowerCase();
const env = { READ_MODEL_KEYSPACE: keyspace, COMMAND_WAIT_MS: '5000' };
const roles: RoleProcess[] = [];
let prometheus: RunningPrometheus | undefined;

afterAll(async () => {
  await Promise.all(roles.map((r) => r.stop().catch(() => null)));
  await prometheus?.stop();
  const redis = testRedis();
  await redis.connect();
  await dropKeys(redis, `rm:{${keyspace}*`);
  await redis.quit();
  const groups = (await withAdmin(kafka, (admin) => admin.listGroups())).groups.map((g) => g.groupId).filter((g) => g.includes(`.${keyspace}`));
  await withAdmin(kafka, (admin) => admin.deleteGroups(groups)).catch(() => undefined);
});

describe('dashboards and alerts against a real Prometheus scraping the roles under load', () => {
  it('every panel and variable of every provisioned dashboard returns data, every rule evaluates, every /metrics passes promtool', async () => {
    const dashboards = provisionedDashboards();
    expect(dashboards.map((d) => path.basename(d.file))).toEqual(expect.arrayContaining(['overview.json', 'consumers.json', 'process-managers.json', 'replays.json']));
    const panels = dashboards.reduce((n, d) => n + panelsOf(d.dashboard.panels).filter((p) => p.type !== 'row').length, 0);
    expect(panels).toBeGreaterThan(25);
    const started = Date.now();

    const running = await Promise.all(ROLES.map(({ role }) => startRole(role, env)));
    roles.push(...running);
    const byJob = new Map(ROLES.map(({ job }, i) => [job, running[i] as RoleProcess]));
    const replayPort = await freePort();
    const targets: Record<string, string[]> = { replay: [`127.0.0.1:${replayPort}`] };
    ROLES.forEach(({ job }, i) => (targets[job] = [...(targets[job] ?? []), `127.0.0.1:${(running[i] as RoleProcess).opsPort}`]));
    prometheus = await startPrometheus(targets, SCRAPE_S);
    const prom = prometheus;
    const gateway = byJob.get('gateway') as RoleProcess;
    const query = byJob.get('query') as RoleProcess;

    // Load: commands accepted and rejected, and queries, until the panels have been asked. Order
    // fulfilment confirms the orders of a real customer once the simulated provider authorises payment.
    const customer = await call(gateway.url, 'POST', '/customers', { name: 'Observed customer', email: `${keyspace}@example.com` });
    expect(customer.status).toBe(201);
    const customerId = customer.body.aggregateId as string;
    let stop = false;
    const load = (async () => {
      for (let i = 0; i < 500 && !stop; i += 1) {
        await smallLoad(gateway.url, `obs${i}`, 1, 1, { confirm: false, customerId });
        await call(gateway.url, 'POST', `/orders/no-such-order-${i}/confirm`, {}); // rejected: order_not_found
        await call(query.url, 'GET', '/menu');
        await call(query.url, 'GET', '/kitchen/queue');
      }
    })().then(
      () => undefined,
      (error: unknown) => error,
    );
    let variables: Awaited<ReturnType<typeof resolveVariables>>;
    let answers: Awaited<ReturnType<typeof askEveryPanel>>;
    try {
      await waitFor('scrapes of every role', async () => ((await prom.query('up == 1')).length >= ROLES.length ? true : undefined), 60_000, 500);
      // A blue/green replay, serving its /metrics on the replay job's port while it runs.
      const replay: Finished = await runReplay([projectionGroupId('menu', keyspace), '--blue-green', '--metrics-port', String(replayPort), '--handover-timeout', '30']);
      expect({ code: replay.code, stderr: replay.code === 0 ? '' : replay.stderr }).toEqual({ code: 0, stderr: '' });
      variables = await resolveVariables(prom, dashboards);
      // Bounded wait until every panel has data over the range so far; a query that does not parse never will.
      answers = await askEveryPanel(prom, dashboards, variables.values, started);
      for (let round = 0; round < 30 && answers.empty.length > 0 && answers.broken.length === 0; round += 1) {
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        answers = await askEveryPanel(prom, dashboards, variables.values, started);
      }
    } finally {
      stop = true;
    }
    expect(await load).toBeUndefined();
    expect(variables.missing).toEqual([]);
    expect(answers.broken).toEqual([]);
    expect(answers.empty).toEqual([]);

    // Some values, not just series: commands went through and were rejected, the replay reached its end.
    const accepted = await prom.query('sum(restaurant_gateway_commands_total{outcome="accepted"})');
    expect(Number(accepted[0]?.value?.[1])).toBeGreaterThan(0);
    const rejected = await prom.query('sum(restaurant_commands_processed_total{outcome="rejected"})');
    expect(Number(rejected[0]?.value?.[1])).toBeGreaterThan(0);
    // Order fulfilment worked the orders: it emitted commands and payment requests.
    const emitted = await prom.query('sum(restaurant_process_messages_emitted_total{process="order-fulfilment"})');
    expect(Number(emitted[0]?.value?.[1])).toBeGreaterThan(0);
    const progress = await prom.query(`max_over_time(restaurant_replay_progress_ratio[${Math.ceil((Date.now() - started) / 1000)}s])`);
    expect(progress.map((r) => [r.metric.group, r.value?.[1]])).toEqual([[projectionGroupId('menu', `${keyspace}-g1`), '1']]);

    // The real alert rules, evaluated by this Prometheus on live data: loaded, and none in error.
    const rules = await waitFor(
      'every rule evaluated',
      async () => {
        const data = await prom.api<{ groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string; lastEvaluation: string }> }> }>('rules');
        const all = data.groups.flatMap((g) => g.rules);
        return all.length > 0 && all.every((r) => !r.lastEvaluation.startsWith('0001')) ? all : undefined;
      },
      30_000,
      500,
    );
    expect(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`)).toEqual([]);

    for (const role of running) {
      const text = await (await fetch(`${role.opsUrl}/metrics`)).text();
      const check = promtool(['check', 'metrics'], text);
      expect({ role: role.role, output: check.output, status: check.status }).toEqual({ role: role.role, output: '', status: 0 });
    }
  });
});
