/**
 * npm run bench:cluster — the price of replication: bench/commands.ts on the
 * single broker (replication factor 1) and, in the same run, on a three-node
 * cluster (replication factor 3, min.insync.replicas 2, every write acks=all),
 * at the same offered rate (BENCH_RATES, default 500/s) and in a closed loop,
 * then the two side by side as ratios (cluster ÷ single broker).
 *
 * The single broker is the local stack (started if it is not running). The
 * cluster is a stack of its own in <STACK_HOME>/bench-cluster, its ports
 * BENCH_CLUSTER_PORT_OFFSET (default 400) above KAFKA_PORT,
 * KAFKA_CONTROLLER_PORT and REGISTRY_PORT; it shares the local Redis and is
 * left running for the next run (`STACK_HOME=.local/bench-cluster ... stack:down`
 * stops it, see docs/cluster.md). Each side runs the command side as
 * production does (compiled, separate gateway and processor) and beside it
 * bench/baseline-server.ts (one kafkajs produce per request), so the plain
 * produce's price of replication is measured too. The runs alternate
 * (single, cluster; BENCH_ROUNDS times, default 1) on a machine shared with
 * everything else: read the ratios, not the absolute figures.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readStackSettings, repoRoot } from '../infra/stack/settings';
import type { Result } from './http-load';

interface Side {
  readonly name: string;
  readonly env: NodeJS.ProcessEnv;
}

interface Row {
  readonly gateway: Result;
  readonly baseline: Result;
}

const OFFSET = Number(process.env.BENCH_CLUSTER_PORT_OFFSET ?? 400);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');

function sides(): Side[] {
  const local = readStackSettings();
  // The single broker: the local stack as `npm start` uses it, whatever STACK_BROKERS says in this shell.
  const single: NodeJS.ProcessEnv = { ...process.env, STACK_BROKERS: '1' };
  delete single.KAFKA_BROKERS;
  const home = path.join(local.home, 'bench-cluster');
  const cluster: NodeJS.ProcessEnv = {
    ...single,
    STACK_HOME: home,
    STACK_DATA_DIR: path.join(home, 'data'),
    STACK_CACHE_DIR: local.cacheDir,
    STACK_BROKERS: '3',
    KAFKA_PORT: String(local.kafka.port + OFFSET),
    KAFKA_CONTROLLER_PORT: String(local.kafka.controllerPort + OFFSET),
    REGISTRY_PORT: String(local.registry.port + OFFSET),
    REDIS_PORT: String(local.redis.port),
  };
  return [
    { name: '1 node (RF 1)', env: single },
    { name: '3 nodes (RF 3, min ISR 2)', env: cluster },
  ];
}

function run(what: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv): void {
  const result = spawnSync(command, [...args], { cwd: repoRoot, env, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`${what} failed (exit ${result.status ?? result.signal})`, { cause: result.error });
}

function benchOn(side: Side, round: number): Row[] {
  console.log(`\n=== ${side.name}, round ${round} ===`);
  run(`stack:up for ${side.name}`, 'npx', ['tsx', 'infra/stack/cli.ts', 'up', '--quiet'], side.env);
  run(`topics:apply for ${side.name}`, 'npx', ['tsx', 'infra/kafka/topics-cli.ts'], { ...side.env, LOG_LEVEL: 'warn' });
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cluster-')), 'rows.json');
  run(`bench:commands on ${side.name}`, 'npx', ['tsx', 'bench/commands.ts'], {
    ...side.env,
    ROLES_FROM: 'dist',
    BENCH_RATES: process.env.BENCH_RATES ?? '500',
    BENCH_AUTH: 'off',
    BENCH_JSON: out,
  });
  const rows = JSON.parse(fs.readFileSync(out, 'utf8')) as Row[];
  fs.rmSync(path.dirname(out), { recursive: true, force: true });
  return rows;
}

function main(): void {
  const [single, cluster] = sides() as [Side, Side];
  const results: Array<{ single: Row[]; cluster: Row[] }> = [];
  for (let round = 1; round <= ROUNDS; round += 1) results.push({ single: benchOn(single, round), cluster: benchOn(cluster, round) });

  console.log(`\nthe price of replication: the command side (and a plain produce) on ${cluster.name} vs ${single.name}, same run, 2 cores shared with everything else`);
  console.log('round  load      | 1 node accepted/s   p50    p99 ms | 3 nodes accepted/s   p50    p99 ms | accepted/s ratio  p50 ratio  p99 ratio');
  const line = (round: number, label: string, a: Result, b: Result): string =>
    `${String(round).padStart(5)}  ${label.padEnd(9)} | ${fmt(a.perSecond).padStart(17)} ${fmt(a.p50).padStart(6)} ${fmt(a.p99).padStart(6)}    | ${fmt(b.perSecond).padStart(18)} ${fmt(b.p50).padStart(6)} ${fmt(b.p99).padStart(6)}    |` +
    ` ${fmt(b.perSecond / a.perSecond, 2).padStart(16)} ${fmt(b.p50 / a.p50, 2).padStart(10)} ${fmt(b.p99 / a.p99, 2).padStart(10)}`;
  results.forEach(({ single: s, cluster: c }, i) => {
    s.forEach((row, j) => {
      const other = c[j];
      if (other === undefined) return;
      const load = row.gateway.offered === 'max' ? 'closed' : `${row.gateway.offered}/s`;
      console.log(line(i + 1, `${load}`, row.gateway, other.gateway));
      console.log(line(i + 1, `  produce`, row.baseline, other.baseline));
    });
  });
  console.log("(rows 'produce': bench/baseline-server.ts, express + one kafkajs produce per request at the same load; closed: as fast as 64 requests in flight go)");
}

main();
