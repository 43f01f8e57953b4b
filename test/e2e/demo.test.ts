/**
 * `npm run demo` against a running system (ROLE=all, as `npm start`): within
 * a minute or so the read models fill, the /metrics counters move and orders
 * go all the way (paid, confirmed, cooked, delivered); Ctrl-C stops the demo
 * cleanly with its summary.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../../infra/stack/settings';
import { call } from '../support/http';
import { unique } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';

jest.setTimeout(240_000);

/** The sum of a metric's samples (optionally only those whose labels contain `labels`) in a /metrics text. */
function metricSum(text: string, name: string, labels = ''): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .filter((line) => line.includes(labels))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('npm run demo', () => {
  let system: RoleProcess | undefined;
  afterAll(async () => {
    await system?.stop();
  });

  it('fills the read models, moves the metrics and stops on Ctrl-C with a summary', async () => {
    const keyspace = unique('demo').toLowerCase();
    system = await startRole('all', { READ_MODEL_KEYSPACE: keyspace, FULFILMENT_PAYMENT_TIMEOUT_MS: '15000' });
    const metrics = async (): Promise<string> => (await fetch(`${system?.opsUrl}/metrics`)).text();
    const acceptedBefore = metricSum(await metrics(), 'restaurant_gateway_commands_total', 'outcome="accepted"');

    const demo = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'demo', 'cli.ts'), '--rate', '120', '--seed', keyspace, '--customers', '12', '--gateway', system.url, '--query', system.queryUrl], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    demo.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    demo.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
    try {
      // Orders go all the way: paid and confirmed (the process manager and the payment simulator), cooked, delivered.
      await waitFor(
        'the demo to report a delivered order',
        async () => (/delivered [1-9]/.test(output) ? true : undefined),
        120_000,
        1_000,
      ).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}\ndemo output:\n${output}`);
      });
    } finally {
      demo.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(output).toMatch(/The demo ran for \d+ s/);
    expect(output).toMatch(/orders delivered\s+[1-9]/);

    // The read models have something to show.
    const menu = await call(system.queryUrl, 'GET', '/menu');
    expect(menu.status).toBe(200);
    expect((menu.body.categories as unknown[]).length).toBe(5);
    const today = new Date().toISOString().slice(0, 10);
    const sales = await call(system.queryUrl, 'GET', `/stats/sales?from=${today}&to=${today}`);
    expect(sales.status).toBe(200);
    expect(Number(sales.body.confirmed)).toBeGreaterThan(0);

    // And the counters moved.
    const text = await metrics();
    expect(metricSum(text, 'restaurant_gateway_commands_total', 'outcome="accepted"')).toBeGreaterThan(acceptedBefore + 20);
    // The first delivery the demo reports may be an order of an earlier run still waiting in the courier queue (the
    // read models of a new keyspace are built from the whole log), and this process's order fulfilment may still be
    // deciding the log's backlog of earlier orders: wait, bounded, for it to decide the demo's.
    await waitFor(
      "this process's order fulfilment to emit",
      async () => (metricSum(await metrics(), 'restaurant_process_messages_emitted_total', 'process="order-fulfilment"') > 0 ? true : undefined),
      120_000,
      1_000,
    ).catch(async (error: unknown) => {
      const ready = await fetch(`${system?.opsUrl}/readyz`).then((r) => r.text()).catch(() => 'unreachable');
      throw new Error(`${(error as Error).message}\nreadyz: ${ready}\ndemo output:\n${output}`);
    });
  });
});
