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
import path from 'node:path';
import type { Role } from '../../app/roles';
import { askEveryPanel, panelsOf, provisionedDashboards, resolveVariables } from '../../infra/observe/dashboards';
import { projectionGroupId } from '../../consumers/projections/runtime/read-models';
import { call } from '../support/http';
import { testKafka, testRedis, unique, withAdmin } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { runReplay, smallLoad, type Finished } from '../support/operations';
import { promtool, startPrometheus, type RunningPrometheus } from '../support/prometheus';
import { dropKeys } from '../support/read-side';
import { freePort, startRole, type RoleProcess } from '../../app/chaos/role-process';

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

const TIMING = { scrapeS: SCRAPE_S, stepS: STEP_S };

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
      const resolved = variables.values;
      let latest = await askEveryPanel(prom, dashboards, resolved, started, TIMING);
      const settled = async (): Promise<true | undefined> => {
        latest = await askEveryPanel(prom, dashboards, resolved, started, TIMING);
        return latest.empty.length === 0 || latest.broken.length > 0 ? true : undefined;
      };
      // Still empty after a minute: the expectations below name the panels.
      if (latest.empty.length > 0 && latest.broken.length === 0) await waitFor('every dashboard panel to have data', settled, 60_000, 2_000).catch(() => undefined);
      answers = latest;
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
