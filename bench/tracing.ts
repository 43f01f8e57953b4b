/**
 * npm run bench:tracing — what tracing costs: bench:commands and
 * bench:projections run three ways in one run, with TRACING off, with 1% of
 * traces sampled and with every trace sampled (spans exported to the local
 * stack's Zipkin, STACK_ZIPKIN=1, started here), printed as ratios to "off".
 *
 * The command side: the gateway starts a trace per request (the load sends no
 * traceparent), sampled at the ratio; the processor's decisions follow.
 * Projections: every event carries a trace context, one trace per aggregate,
 * sampled at the ratio (what the processor writes), and the projector records
 * one span per sampled trace per batch. Asserts nothing.
 *
 * BENCH_TRACING_RATIOS (default 0.01,1), BENCH_ROUNDS (default 1: each round
 * runs off and every ratio, so a noisy machine shows as rounds that disagree),
 * BENCH_RATES (default 500,1000) and BENCH_SECONDS pass on to bench:commands;
 * BENCH_EVENTS (default 100,000) and BENCH_MODELS to bench:projections.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../infra/stack/settings';
import type { Result } from './http-load';

interface Mode {
  readonly name: string;
  readonly env: Readonly<Record<string, string>>;
}
interface CommandRow {
  readonly gateway: Result;
}
interface ProjectionRow {
  readonly model: string;
  readonly rate: number;
  readonly ratio: number;
}

const RATIOS = (process.env.BENCH_TRACING_RATIOS ?? '0.01,1').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const MODES: readonly Mode[] = [
  { name: 'off', env: { TRACING: 'off' } },
  ...RATIOS.map((ratio) => ({ name: `${ratio * 100}%`, env: { TRACING: 'zipkin', TRACING_SAMPLE_RATIO: String(ratio) } })),
];

function run(what: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv): void {
  const result = spawnSync(command, [...args], { cwd: repoRoot, env, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`${what} failed (exit ${result.status ?? result.signal})`, { cause: result.error });
}

function rowsOf<T>(what: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv): T[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-tracing-'));
  try {
    run(what, command, args, { ...env, BENCH_JSON: path.join(dir, 'rows.json') });
    return JSON.parse(fs.readFileSync(path.join(dir, 'rows.json'), 'utf8')) as T[];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');

function main(): void {
  const env = { ...process.env, STACK_ZIPKIN: '1', LOG_LEVEL: 'warn' };
  run('stack:up', 'npx', ['tsx', 'infra/stack/cli.ts', 'up', '--quiet'], env);
  const commands: Array<Map<string, CommandRow[]>> = [];
  const projections: Array<Map<string, ProjectionRow[]>> = [];
  for (let round = 1; round <= ROUNDS; round += 1) {
    const c = new Map<string, CommandRow[]>();
    const p = new Map<string, ProjectionRow[]>();
    for (const mode of MODES) {
      console.log(`\n=== round ${round}: bench:commands, tracing ${mode.name} ===`);
      c.set(mode.name, rowsOf('bench:commands', 'npx', ['tsx', 'bench/commands.ts'], { ...env, ...mode.env, ROLES_FROM: 'dist', BENCH_AUTH: 'off', BENCH_RATES: process.env.BENCH_RATES ?? '500,1000' }));
      console.log(`\n=== round ${round}: bench:projections, tracing ${mode.name} ===`);
      p.set(mode.name, rowsOf('bench:projections', 'node', ['--enable-source-maps', 'dist/bench/projections.js'], { ...env, ...mode.env, BENCH_STAGES: '0', BENCH_EVENTS: process.env.BENCH_EVENTS ?? '100000' }));
    }
    commands.push(c);
    projections.push(p);
  }

  const others = MODES.slice(1);
  console.log('\ntracing\'s cost, same run, 2 cores shared with Kafka, the registry, Zipkin and the load generator (ratio = with tracing / off)');
  console.log('\ncommand side (gateway + processor, open loop at each rate, then closed loop)');
  console.log(`round  load     | off accepted/s  p50   p99 ms | ${others.map((m) => `${m.name.padStart(5)} accepted/s ratio  p99 ratio`).join(' | ')}`);
  commands.forEach((c, i) => {
    const base = c.get('off') ?? [];
    base.forEach((row, j) => {
      const load = row.gateway.offered === 'max' ? 'closed' : `${row.gateway.offered}/s`;
      const cells = others.map((m) => {
        const g = c.get(m.name)?.[j]?.gateway;
        return g === undefined ? '-' : `${fmt(g.perSecond).padStart(16)} ${fmt(g.perSecond / row.gateway.perSecond, 3).padStart(5)} ${fmt(g.p99 / row.gateway.p99, 2).padStart(10)}`;
      });
      console.log(`${String(i + 1).padStart(5)}  ${load.padEnd(8)} | ${fmt(row.gateway.perSecond).padStart(14)} ${fmt(row.gateway.p50).padStart(4)} ${fmt(row.gateway.p99).padStart(5)}    | ${cells.join(' | ')}`);
    });
  });
  console.log('\nprojection replay (events/s; ratio to off; in brackets each run\'s own ratio to a raw eachBatch consume, which moves with the machine\'s load)');
  console.log(`round  read model  | off events/s | ${others.map((m) => `${m.name.padStart(5)} events/s  ratio`).join(' | ')}`);
  projections.forEach((p, i) => {
    for (const row of p.get('off') ?? []) {
      const cells = others.map((m) => {
        const r = p.get(m.name)?.find((x) => x.model === row.model);
        return r === undefined ? '-' : `${fmt(r.rate).padStart(14)} ${fmt(r.rate / row.rate, 3).padStart(6)} (${fmt(r.ratio, 3)} vs ${fmt(row.ratio, 3)})`;
      });
      console.log(`${String(i + 1).padStart(5)}  ${row.model.padEnd(10)}  | ${fmt(row.rate).padStart(12)} | ${cells.join(' | ')}`);
    }
  });
}

main();
