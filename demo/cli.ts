// npm run demo: a restaurant that runs by itself against a running `npm start`
// (docs/first-hour.md). Seeds the menu and customers, then keeps a day's
// traffic flowing until Ctrl-C (or --duration), and prints what it did.
import { DemoClient } from './client';
import { DEMO_USAGE, DemoUsageError, parseDemoOptions, type DemoOptions } from './options';
import { seededRandom } from './random';
import { seedCustomers, seedMenu } from './seed';
import { DEMO_MENU, demoCustomers } from './seed-data';
import { DemoStats } from './stats';
import { Traffic } from './traffic';
import { localTokens } from './tokens';

const say = (line = ''): void => void process.stdout.write(`${line}\n`);

async function salesToday(client: DemoClient): Promise<Record<string, unknown> | undefined> {
  const today = new Date().toISOString().slice(0, 10);
  const reply = await client.query({ role: 'manager' }, `/stats/sales?from=${today}&to=${today}`).catch(() => undefined);
  return reply?.status === 200 ? reply.body : undefined;
}

async function run(options: DemoOptions): Promise<void> {
  const client = new DemoClient({ gatewayUrl: options.gatewayUrl, queryUrl: options.queryUrl, headersFor: localTokens() });
  const stats = new DemoStats();
  say(`Demo: seed "${options.seed}", ${options.ordersPerMinute} orders/min, ${options.customers} customers, ${options.durationMs === undefined ? 'until Ctrl-C' : `for ${Math.round(options.durationMs / 1000)} s`}`);
  say(`      gateway ${options.gatewayUrl}, query API ${options.queryUrl}`);

  // Ctrl-C while seeding stops after the step in flight; during traffic, once the requests in flight are answered.
  let interrupted = 0;
  const running: { traffic?: Traffic } = {};
  const stop = (): void => {
    interrupted++;
    if (interrupted > 1) {
      say('\nStopping at once.');
      process.exit(130);
    }
    say('\nStopping: no new orders; finishing the requests in flight (Ctrl-C again to quit at once)...');
    running.traffic?.stop();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  const menuItemIds = await seedMenu(client, DEMO_MENU, stats);
  say(`Menu: ${menuItemIds.length} items (${stats.get('menu items added')} added, ${stats.get('menu items found')} already there)`);
  const customers = interrupted > 0 ? [] : await seedCustomers(client, demoCustomers(seededRandom(options.seed, 'customers'), options.customers, options.seed), options.seed, stats);
  if (interrupted > 0) return summarise(client, stats);
  if (customers.length === 0) throw new Error('no customer could sign up; see the refusals above');
  say(`Customers: ${customers.length} signed up`);

  const traffic = new Traffic(client, { scenario: { seed: options.seed, ordersPerMinute: options.ordersPerMinute, customers: customers.length, menuItems: menuItemIds.length }, customers, menuItemIds, durationMs: options.durationMs }, stats);
  running.traffic = traffic;
  say(`Traffic is flowing. Watch it: ${options.queryUrl}/kitchen/queue, ${options.queryUrl}/stats/sales, /metrics of npm start. Ctrl-C stops.`);
  const progress = setInterval(() => say(`  ${stats.progress()}`), 10_000);
  try {
    await traffic.run();
  } finally {
    clearInterval(progress);
  }
  await summarise(client, stats);
}

async function summarise(client: DemoClient, stats: DemoStats): Promise<void> {
  say();
  for (const line of stats.summary(await salesToday(client))) say(line);
}

let options: DemoOptions;
try {
  options = parseDemoOptions(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof DemoUsageError)) throw error;
  process.stderr.write(`${error.message}\n\n${DEMO_USAGE}\n`);
  process.exit(2);
}
run(options).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
