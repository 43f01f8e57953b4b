// Operations tooling as users run it: `npm run replay` and `npm run dlq` (the CLIs, as processes)
// and Kafka's own kafka-consumer-groups (ConsumerGroupCommand from the Kafka
// jars in the stack's cache, run by java as kafka-consumer-groups.sh does),
// plus a small load through the gateway.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { config } from '../../infra/config';
import { readStackSettings, repoRoot } from '../../infra/stack/settings';
import { versions } from '../../infra/stack/versions';
import { call } from './http';

export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `npm run replay -- <args>`, as a process of its own; resolves when it exits (killed after timeoutMs). */
export function runReplay(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 180_000): Promise<Finished> {
  return runCli(path.join('consumers', 'projections', 'replay', 'cli.ts'), args, env, timeoutMs);
}

/** `npm run dlq -- <args>`, as a process of its own; resolves when it exits (killed after timeoutMs). */
export function runDlq(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<Finished> {
  return runCli(path.join('consumers', 'projections', 'redrive', 'cli.ts'), args, env, timeoutMs);
}

function runCli(script: string, args: readonly string[], env: Record<string, string>, timeoutMs: number): Promise<Finished> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, script), ...args], {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** Kafka's kafka-consumer-groups tool (org.apache.kafka.tools.consumer.group.ConsumerGroupCommand in Kafka 3.9). */
export function kafkaConsumerGroups(args: readonly string[]): { status: number | null; output: string } {
  const settings = readStackSettings();
  const classpath = path.join(settings.cacheDir, `kafka-${versions.kafka}`, 'libs', '*');
  const run = spawnSync(
    settings.javaBin,
    ['-Xmx256m', '-cp', classpath, 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', '--bootstrap-server', config().kafka.brokers.join(','), ...args],
    { encoding: 'utf8', timeout: 120_000 },
  );
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

const address = { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' };

export interface Loaded {
  readonly menuItems: ReadonlyArray<{ readonly id: string; readonly category: string }>;
  readonly orders: readonly string[];
  /** The consistency token of the last command. */
  readonly lastToken: string;
}

/** Menu items and confirmed orders through the gateway: data for the menu, orders, kitchen and sales read models. */
export interface LoadOptions {
  /** Confirm each placed order through the gateway (default), as the kitchen would without a process manager; off when order fulfilment runs. */
  readonly confirm?: boolean;
  /** The customer ordering (default: made-up ids, which only a process manager's checks would notice). */
  readonly customerId?: string;
}

export async function smallLoad(gatewayUrl: string, tag: string, items: number, orders: number, options: LoadOptions = {}): Promise<Loaded> {
  const categories = ['STARTER', 'MAIN', 'DESSERT', 'DRINK'];
  const menuItems: Array<{ id: string; category: string }> = [];
  let lastToken = '';
  const ok = (what: string, status: number, body: Record<string, unknown>): void => {
    if (status >= 300) throw new Error(`${what}: HTTP ${status} ${JSON.stringify(body)}`);
    if (typeof body.consistencyToken === 'string') lastToken = body.consistencyToken;
  };
  for (let i = 0; i < items; i += 1) {
    const category = categories[i % categories.length] as string;
    const r = await call(gatewayUrl, 'POST', '/menu/items', { name: `${tag} dish ${i}`, description: tag, category, price: { amountMinor: 700 + i, currency: 'EUR' } });
    ok('add menu item', r.status, r.body);
    menuItems.push({ id: r.body.aggregateId as string, category });
  }
  const placed: string[] = [];
  for (let i = 0; i < orders; i += 1) {
    const opened = await call(gatewayUrl, 'POST', '/orders', { customerId: options.customerId ?? `${tag}-customer-${i % 3}` });
    ok('open order', opened.status, opened.body);
    const orderId = opened.body.aggregateId as string;
    const dish = menuItems[i % menuItems.length];
    for (const [p, body] of [
      [`/orders/${orderId}/items`, { menuItemId: dish?.id, quantity: 1 + (i % 2) }],
      [`/orders/${orderId}/delivery-address`, { address }],
      [`/orders/${orderId}/place`, {}],
      ...(options.confirm === false ? [] : ([[`/orders/${orderId}/confirm`, {}]] as const)),
    ] as const) {
      const r = await call(gatewayUrl, 'POST', p, body);
      ok(p, r.status, r.body);
    }
    placed.push(orderId);
  }
  return { menuItems, orders: placed, lastToken };
}
