/**
 * npm run bench:commands — the command side under fixed offered loads.
 *
 * Runs a command-processor and a gateway as separate processes (BENCH_LAYOUT=combined:
 * one process, ROLE=commands), and beside them,
 * in the same run, the baseline (bench/baseline-server.ts: express + one kafkajs
 * produce per request, same batching). For each offered rate it sends an
 * open-loop load for a fixed time to each, measuring latency from the moment each
 * request was due (so a slow server cannot hide its queueing), then a closed loop
 * for the sustained maximum. It prints figures and ratios and asserts nothing.
 *
 * Every request to the gateway carries a bearer token, as clients send them
 * (docs/security.md): OpenOrder from one of BENCH_CUSTOMERS (default 1000)
 * customers, price changes from a manager. Beside it, in the same run, a second
 * gateway with authentication switched off (AUTH_DISABLED=true) takes the same
 * load at BENCH_AUTH_RATE (default 500/s) and in a closed loop: the cost of
 * token verification, as accepted/s and p99 with and without it.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { config } from '../infra/config';
import { createKafka } from '../infra/kafka/client';
import { createTopicsLed } from '../infra/kafka/create-topics';
import { rootLogger } from '../infra/logging';
import { repoRoot } from '../infra/stack/settings';
import { mintToken } from '../infra/auth/local-issuer';
import { claimsFor, stackSigningKey } from '../test/support/auth';
import { freePort, roleEntryPoint, startRole, type RoleProcess } from '../app/chaos/role-process';
import { BASELINE_TOPIC } from './baseline-server';
import { verificationCost } from './token-verification';
import { closedLoop, openLoop, post, postJson, sleep, type Request, type Result } from './http-load';

const RATES = (process.env.BENCH_RATES ?? '250,500,1000,1500,2000').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CLOSED_CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const MENU_ITEMS = 200;
const AUTH_RATE = Number(process.env.BENCH_AUTH_RATE ?? 500);
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 1000);
/** Old-generation budgets: the gateway's live heap is ~40 MB whatever the load; the processor's grows ~0.5 KB per aggregate it holds. */
const GATEWAY_HEAP_MB = Number(process.env.BENCH_GATEWAY_HEAP_MB ?? 96);
const PROCESSOR_HEAP_MB = Number(process.env.BENCH_PROCESSOR_HEAP_MB ?? 192);
/** BENCH_LAYOUT=split (default): gateway and processor as two processes; combined: one process (ROLE=commands). */
const LAYOUT = process.env.BENCH_LAYOUT === 'combined' ? 'combined' : 'split';
/**
 * BENCH_PARTITIONS_PER_WORKER (default 6): the processor's COMMAND_PARTITIONS_PER_WORKER (the runtime's task groups).
 * 6 puts the six partitions of each command topic in one task group, as for the one
 * processor a 2-core machine runs; 1 is the scale-out default of the roles.
 */
const PARTITIONS_PER_WORKER = process.env.BENCH_PARTITIONS_PER_WORKER ?? '6';
/** BENCH_AUTH=off skips the comparison with a gateway without authentication (bench/cluster.ts needs only the command side's figures). */
const MEASURE_AUTH = process.env.BENCH_AUTH !== 'off';
/** BENCH_JSON: a file to write the rows to as JSON, for a wrapper that sets this run beside another (bench/cluster.ts). */
const JSON_OUT = process.env.BENCH_JSON;
/** BENCH_NODE_OPTIONS: more V8 flags for the roles, e.g. --max-semi-space-size=2 (docs/command-side.md § Performance). */
const EXTRA_NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS ?? '';

/** A role's memory: resident, and of it the V8 heap in use and the memory outside the heap (buffers), from its /metrics. */
async function memoryOf(role: RoleProcess): Promise<string> {
  const text = await (await fetch(`${role.opsUrl}/metrics`)).text();
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
  const held = [...text.matchAll(/^restaurant_command_aggregates\{aggregate="([^"]+)",form="held"\} (\d+)$/gm)].map(([, aggregate, n]) => `${n} ${aggregate}`);
  return `${role.role} ${fmt(rssMb(role.child.pid ?? 0))} MB (heap used ${fmt(value('nodejs_heap_size_used_bytes'))}, heap total ${fmt(value('nodejs_heap_size_total_bytes'))}, external ${fmt(value('nodejs_external_memory_bytes'))}${held.length > 0 ? `; aggregates held: ${held.join(', ')}` : ''})`;
}

/** CPU seconds a process has used so far (user + system, from /proc). */
function cpuSecondsOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime, fields 14 and 15 of the line (11 and 12 after the command name), in clock ticks of 1/100 s.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

async function startBaseline(): Promise<{ url: string; stop: () => void; pid: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, roleEntryPoint(path.join('bench', 'baseline-server')), {
    cwd: repoRoot,
    env: { ...process.env, PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: 'inherit',
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i += 1) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) return { url, stop: () => child.kill('SIGTERM'), pid: child.pid ?? 0 };
    } catch {
      // starting
    }
    await sleep(100);
  }
  throw new Error('the baseline server did not start');
}

const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');

async function main(): Promise<void> {
  const admin = createKafka('bench-admin', rootLogger).admin();
  await admin.connect();
  if (!(await admin.listTopics()).includes(BASELINE_TOPIC)) {
    // Replicated like the catalog's topics (on a cluster: 3 replicas, min.insync.replicas 2), so the baseline pays what the command side pays.
    const { replicationFactor, minInsyncReplicas } = config().topics;
    await createTopicsLed(admin, [
      { topic: BASELINE_TOPIC, numPartitions: 6, replicationFactor, configEntries: [{ name: 'retention.ms', value: '3600000' }, { name: 'min.insync.replicas', value: String(minInsyncReplicas) }] },
    ]);
  }
  await admin.disconnect();

  // The roles run as production runs them (docs/command-side.md § Running): compiled, each with a heap budget.
  const env = { LOG_LEVEL: 'warn', COMMAND_WAIT_MS: '5000', COMMAND_PARTITIONS_PER_WORKER: PARTITIONS_PER_WORKER };
  const roles: RoleProcess[] = [];
  if (LAYOUT === 'combined') {
    roles.push(await startRole('commands', { ...env, NODE_OPTIONS: `--max-old-space-size=${GATEWAY_HEAP_MB + PROCESSOR_HEAP_MB} ${EXTRA_NODE_OPTIONS}` }));
  } else {
    roles.push(await startRole('command-processor', { ...env, NODE_OPTIONS: `--max-old-space-size=${PROCESSOR_HEAP_MB} ${EXTRA_NODE_OPTIONS}` }));
    roles.push(await startRole('gateway', { ...env, NODE_OPTIONS: `--max-old-space-size=${GATEWAY_HEAP_MB} ${EXTRA_NODE_OPTIONS}` }));
  }
  const gateway = roles[roles.length - 1] as RoleProcess;
  const rss = (): number => roles.reduce((sum, r) => sum + rssMb(r.child.pid ?? 0), 0);
  // The same gateway without authentication, sharing the processor: the baseline of token verification's cost.
  const open = !MEASURE_AUTH ? undefined : await startRole('gateway', { ...env, AUTH_DISABLED: 'true', NODE_OPTIONS: `--max-old-space-size=${GATEWAY_HEAP_MB} ${EXTRA_NODE_OPTIONS}` });
  const baseline = await startBaseline();
  const rssAtStart = rss();
  const memoryAtStart = await Promise.all(roles.map(memoryOf));

  try {
    const run = `${Date.now().toString(36)}`;
    const key = await stackSigningKey();
    const cost = await verificationCost(key);
    const manager = { authorization: `Bearer ${await mintToken(key, claimsFor('manager', `bench-manager-${run}`))}` };
    const customers: { id: string; headers: Record<string, string> }[] = [];
    for (let c = 0; c < CUSTOMERS; c += 1) {
      const id = `bench-${run}-${c}`;
      customers.push({ id, headers: { authorization: `Bearer ${await mintToken(key, claimsFor('customer', id))}` } });
    }
    // A menu to change prices on; its items spread over every partition.
    const menu: string[] = [];
    for (let i = 0; i < MENU_ITEMS; i += 1) {
      const res = await postJson(`${gateway.url}/menu/items`, { name: `Bench dish ${i}`, description: 'bench', category: 'MAIN', price: { amountMinor: 1000, currency: 'EUR' } }, manager);
      menu.push((res.body as { aggregateId: string }).aggregateId);
    }
    // Half new orders (OpenOrder, each by its customer), half price changes on existing items (ChangeMenuItemPrice, by the manager): both always accepted.
    const commandsTo =
      (url: string): Request =>
      (i) => {
        if (i % 2 === 1) return post(`${url}/menu/items/${menu[(i >> 1) % MENU_ITEMS]}/price`, { price: { amountMinor: 1000 + (i % 500), currency: 'EUR' } }, manager);
        const customer = customers[(i >> 1) % CUSTOMERS] as { id: string; headers: Record<string, string> };
        return post(`${url}/orders`, { customerId: customer.id }, customer.headers);
      };
    const command = commandsTo(gateway.url);
    const unauthenticated = commandsTo(open?.url ?? gateway.url);
    const bare: Request = (i) => post(`${baseline.url}/produce/bench-${run}-${i}`, { customerId: `bench-${run}-${i % 1000}` });

    // Warm-up (BENCH_WARMUP_SECONDS, default 15 at 500/s): the JITs of the roles and of a freshly started broker, connections, partition state.
    const warmup = Number(process.env.BENCH_WARMUP_SECONDS ?? 15);
    await openLoop(500, warmup, command, 0);
    await openLoop(500, warmup / 3, bare, 0);

    // The roles' CPU (gateway and processor) per accepted command during the gateway's load: steadier than rates on a shared machine.
    const rolesCpu = (): number => roles.reduce((sum, r) => sum + cpuSecondsOf(r.child.pid ?? 0), 0);
    const measured = async (load: () => Promise<Result>): Promise<{ result: Result; cpuMsPerCommand: number }> => {
      const before = rolesCpu();
      const result = await load();
      return { result, cpuMsPerCommand: ((rolesCpu() - before) * 1000) / Math.max(1, result.accepted) };
    };
    const rows: Array<{ gateway: Result; baseline: Result; cpuMsPerCommand: number }> = [];
    let offset = 10_000;
    for (const rate of RATES) {
      const g = await measured(() => openLoop(rate, SECONDS, command, (offset += 100_000)));
      const b = await openLoop(rate, SECONDS, bare, offset);
      rows.push({ gateway: g.result, baseline: b, cpuMsPerCommand: g.cpuMsPerCommand });
    }
    const gMax = await measured(() => closedLoop(CLOSED_CONCURRENCY, SECONDS, command, (offset += 100_000)));
    const bMax = await closedLoop(CLOSED_CONCURRENCY, SECONDS, bare, offset);
    rows.push({ gateway: gMax.result, baseline: bMax, cpuMsPerCommand: gMax.cpuMsPerCommand });

    if (JSON_OUT !== undefined) fs.writeFileSync(JSON_OUT, JSON.stringify(rows));
    // Token verification's cost: the same commands with tokens and without authentication, alternately.
    if (MEASURE_AUTH) await openLoop(AUTH_RATE, warmup / 3, unauthenticated, (offset += 100_000));
    const authRows = !MEASURE_AUTH
      ? []
      : [
          { what: `open loop ${AUTH_RATE}/s`, withAuth: await openLoop(AUTH_RATE, SECONDS, command, (offset += 100_000)), without: await openLoop(AUTH_RATE, SECONDS, unauthenticated, (offset += 100_000)) },
          { what: `closed loop, ${CLOSED_CONCURRENCY} in flight`, withAuth: await closedLoop(CLOSED_CONCURRENCY, SECONDS, command, (offset += 100_000)), without: await closedLoop(CLOSED_CONCURRENCY, SECONDS, unauthenticated, (offset += 100_000)) },
        ];
    const rssAtEnd = rss();
    const memoryAtEnd = await Promise.all(roles.map(memoryOf));

    console.log(`\ncommand side vs baseline (express + one kafkajs produce per request, same batching), ${SECONDS} s per row, 2 cores shared with Kafka, the registry and the load generator`);
    console.log('offered/s | gateway accepted/s  p50    p95    p99 ms  non-2xx  roles cpu ms/cmd | baseline ok/s  p50    p95    p99 ms | accepted/s ratio  p99 ratio');
    for (const { gateway: g, baseline: b, cpuMsPerCommand } of rows) {
      console.log(
        `${String(g.offered).padStart(9)} | ${fmt(g.perSecond).padStart(10)} ${fmt(g.p50).padStart(8)} ${fmt(g.p95).padStart(6)} ${fmt(g.p99).padStart(6)} ${String(g.other).padStart(8)} ${fmt(cpuMsPerCommand, 2).padStart(17)} |` +
          ` ${fmt(b.perSecond).padStart(12)} ${fmt(b.p50).padStart(6)} ${fmt(b.p95).padStart(6)} ${fmt(b.p99).padStart(6)} |` +
          ` ${fmt(g.perSecond / b.perSecond, 2).padStart(16)} ${fmt(g.p99 / b.p99, 2).padStart(10)}`,
      );
    }
    if (MEASURE_AUTH) console.log(`\nauthentication's cost: the gateway with bearer tokens (${CUSTOMERS} customers + 1 manager, ES256, verified tokens cached) vs a gateway with AUTH_DISABLED=true, same processor, ${SECONDS} s per row`);
    if (MEASURE_AUTH) console.log('load                       | with tokens accepted/s  p99 ms  non-2xx | no auth accepted/s  p99 ms  non-2xx | accepted/s ratio  p99 ratio');
    for (const { what, withAuth: a, without: n } of authRows) {
      console.log(
        `${what.padEnd(26)} | ${fmt(a.perSecond).padStart(22)} ${fmt(a.p99).padStart(7)} ${String(a.other).padStart(8)} | ${fmt(n.perSecond).padStart(18)} ${fmt(n.p99).padStart(7)} ${String(n.other).padStart(8)} |` +
          ` ${fmt(a.perSecond / n.perSecond, 3).padStart(16)} ${fmt(a.p99 / n.p99, 2).padStart(10)}`,
      );
    }
    if (MEASURE_AUTH) console.log(
      `token verification alone, in process: ${fmt(cost.firstUs)} µs for a token seen the first time (ES256 signature), ${fmt(cost.cachedUs, 2)} µs for one verified before;` +
        ` at ${AUTH_RATE}/s with every token new that is ${fmt((cost.firstUs * AUTH_RATE) / 10_000, 2)} % of one core`,
    );
    console.log(`gateway + processor resident memory: ${fmt(rssAtStart)} MB at start, ${fmt(rssAtEnd)} MB at end (baseline server: ${fmt(rssMb(baseline.pid))} MB); heap budgets ${GATEWAY_HEAP_MB} / ${PROCESSOR_HEAP_MB} MB, layout ${LAYOUT}, ${PARTITIONS_PER_WORKER} partition(s) per processor task group${EXTRA_NODE_OPTIONS === '' ? '' : `, node options ${EXTRA_NODE_OPTIONS}`}`);
    console.log(`  at start: ${memoryAtStart.join('; ')}`);
    console.log(`  at end:   ${memoryAtEnd.join('; ')}`);
  } finally {
    baseline.stop();
    await Promise.all([...roles, ...(open === undefined ? [] : [open])].map((r) => r.stop()));
  }
}

main().catch((error: unknown) => {
  console.error('bench failed', error);
  process.exit(1);
});
