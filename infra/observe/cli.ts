// npm run observe: Prometheus without Docker, scraping the running roles with
// the project's prometheus.yml and alert rules (docs/operations.md,
// "Dashboards without Docker"). Ctrl-C stops it; its data stays in
// .local/prometheus for the next run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../stack/settings';
import { askEveryPanel, provisionedDashboards, resolveVariables } from './dashboards';
import { OBSERVE_USAGE, ObserveUsageError, parseObserveOptions, type ObserveOptions } from './options';
import { portIsFree, startPrometheus, type RunningPrometheus } from './prometheus';

const say = (line = ''): void => void process.stdout.write(`${line}\n`);
const DATA_DIR = path.join(repoRoot, '.local', 'prometheus');

async function choosePort(options: ObserveOptions): Promise<number> {
  if (options.port !== undefined) {
    if (!(await portIsFree(options.port))) throw new Error(`port ${options.port} is taken: choose another with --port or OBSERVE_PORT`);
    return options.port;
  }
  return (await portIsFree(9090)) ? 9090 : 0;
}

function printWhereToLook(prom: RunningPrometheus, options: ObserveOptions): void {
  const graph = (expr: string): string => `${prom.url}/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=0&g0.range_input=15m`;
  say(`Prometheus is running at ${prom.url} (data in ${prom.dir.startsWith(process.cwd()) ? path.relative(process.cwd(), prom.dir) : prom.dir})`);
  say();
  say(`  targets          ${prom.url}/targets   (${Object.entries(options.targets).map(([job, t]) => `${job}: ${t.join(', ')}`).join('; ')})`);
  say(`  alerts           ${prom.url}/alerts`);
  say(`  commands/s       ${graph('sum by (outcome) (rate(restaurant_gateway_commands_total[1m]))')}`);
  say(`  orders by state  ${graph('sum by (state) (restaurant_process_instances{process="order-fulfilment"})')}`);
  say(`  consumer lag     ${graph('sum by (group) (restaurant_consumer_lag_messages)')}`);
  say();
  say('  Grafana: point an existing Grafana at it with the dashboards in infra/grafana (docs/operations.md, "Dashboards without Docker").');
  say('  Stop with Ctrl-C.');
}

async function check(prom: RunningPrometheus, options: ObserveOptions, started: number): Promise<boolean> {
  const dashboards = provisionedDashboards();
  const timing = { scrapeS: options.scrapeIntervalS ?? 15, stepS: Math.max(2, options.scrapeIntervalS ?? 15) };
  say(`Checking every panel of ${dashboards.length} dashboards for data (waiting up to ${Math.round(options.checkWaitMs / 1000)} s)...`);
  const deadline = started + options.checkWaitMs;
  const variables = await resolveVariables(prom, dashboards, Math.max(1000, deadline - Date.now()));
  let answers = await askEveryPanel(prom, dashboards, variables.values, started, timing);
  while (answers.broken.length === 0 && answers.empty.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    answers = await askEveryPanel(prom, dashboards, variables.values, started, timing);
  }
  say(`${answers.asked - answers.empty.length - answers.broken.length} of ${answers.asked} panel queries have data.`);
  for (const line of variables.missing) say(`  variable without values: ${line}`);
  for (const line of answers.broken) say(`  broken: ${line}`);
  for (const line of answers.empty) say(`  no data: ${line}`);
  if (answers.empty.some((e) => e.includes('replays.json'))) say('  (the replays dashboard fills while `npm run replay -- <group> --blue-green` runs, its metrics on port 9470)');
  return variables.missing.length === 0 && answers.broken.length === 0 && answers.empty.length === 0;
}

async function main(): Promise<void> {
  let options: ObserveOptions;
  try {
    options = parseObserveOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof ObserveUsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${OBSERVE_USAGE}\n`);
    process.exit(2);
  }
  // A check starts from nothing in a folder of its own; a plain run keeps its data for the next.
  const dir = options.check ? fs.mkdtempSync(path.join(os.tmpdir(), 'observe-check-')) : DATA_DIR;
  const started = Date.now();
  const prom = await startPrometheus(options.targets, { dir, port: await choosePort(options), scrapeIntervalS: options.scrapeIntervalS });
  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await prom.stop();
    if (options.check) fs.rmSync(dir, { recursive: true, force: true });
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  prom.child.once('exit', (code) => {
    if (stopping) return;
    process.stderr.write(`prometheus exited (${code ?? 'signal'}):\n${prom.output()}\n`);
    process.exit(1);
  });
  printWhereToLook(prom, options);
  if (options.check) await stop((await check(prom, options, started)) ? 0 : 1);
}

main().catch((error: unknown) => {
  process.stderr.write(`observe failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
