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
 * Rates on a shared machine move with the other tenants, so CPU is printed
 * beside them: the gateway's and processor's CPU per accepted command, and the
 * replay's node CPU seconds (all read models together), each as a ratio to
 * off, with the medians over the rounds and the load average at the end.
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
  /** The gateway's and processor's CPU per accepted command during that load. */
  readonly cpuMsPerCommand: number;
}
interface ProjectionRow {
  readonly model: string;
  readonly rate: number;
  readonly ratio: number;
  /** The replay's node CPU seconds (the projector runs in the bench's process), and the raw consume's of the same topic. */
  readonly cpuSeconds: number;
  readonly rawCpuSeconds: number;
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
const median = (values: readonly number[]): number => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

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
  console.log(`round  load     | off accepted/s  p50   p99 ms  cpu ms/cmd | ${others.map((m) => `${m.name.padStart(5)} accepted/s ratio  p99 ratio  cpu ms/cmd ratio`).join(' | ')}`);
  commands.forEach((c, i) => {
    const base = c.get('off') ?? [];
    base.forEach((row, j) => {
      const load = row.gateway.offered === 'max' ? 'closed' : `${row.gateway.offered}/s`;
      const cells = others.map((m) => {
        const g = c.get(m.name)?.[j]?.gateway;
        const cpu = c.get(m.name)?.[j]?.cpuMsPerCommand ?? NaN;
        return g === undefined ? '-' : `${fmt(g.perSecond).padStart(16)} ${fmt(g.perSecond / row.gateway.perSecond, 3).padStart(5)} ${fmt(g.p99 / row.gateway.p99, 2).padStart(10)} ${fmt(cpu, 2).padStart(11)} ${fmt(cpu / row.cpuMsPerCommand, 3).padStart(5)}`;
      });
      console.log(`${String(i + 1).padStart(5)}  ${load.padEnd(8)} | ${fmt(row.gateway.perSecond).padStart(14)} ${fmt(row.gateway.p50).padStart(4)} ${fmt(row.gateway.p99).padStart(5)} ${fmt(row.cpuMsPerCommand, 2).padStart(11)} | ${cells.join(' | ')}`);
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
  console.log('\nprojection replay, node CPU seconds of all read models together (ratio to off; in brackets the raw consumes\' CPU ratio, which moves with the load alone)');
  console.log(`round | off cpu s | ${others.map((m) => `${m.name.padStart(5)} cpu s  ratio (raw)`).join(' | ')}`);
  const cpuRatios = new Map<string, number[]>(others.map((m) => [m.name, []]));
  projections.forEach((p, i) => {
    const off = p.get('off') ?? [];
    const cells = others.map((m) => {
      const rows = p.get(m.name) ?? [];
      const ratio = sum(rows.map((r) => r.cpuSeconds)) / sum(off.map((r) => r.cpuSeconds));
      cpuRatios.get(m.name)?.push(ratio);
      return `${fmt(sum(rows.map((r) => r.cpuSeconds)), 1).padStart(11)} ${fmt(ratio, 3).padStart(6)} (${fmt(sum(rows.map((r) => r.rawCpuSeconds)) / sum(off.map((r) => r.rawCpuSeconds)), 2)})`;
    });
    console.log(`${String(i + 1).padStart(5)} | ${fmt(sum(off.map((r) => r.cpuSeconds)), 1).padStart(9)} | ${cells.join(' | ')}`);
  });
  console.log(`\nmedians over ${ROUNDS} round(s), ratio to off (1 = no cost), load average now ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  for (const m of others) {
    const commandCpu = commands.map((c) => median((c.get(m.name) ?? []).map((r, j) => r.cpuMsPerCommand / ((c.get('off') ?? [])[j]?.cpuMsPerCommand ?? NaN))));
    const commandRate = commands.map((c) => median((c.get(m.name) ?? []).map((r, j) => r.gateway.perSecond / ((c.get('off') ?? [])[j]?.gateway.perSecond ?? NaN))));
    console.log(`${m.name.padStart(5)}: command side CPU per command ${fmt(median(commandCpu), 3)}, accepted/s ${fmt(median(commandRate), 3)}; projection replay CPU ${fmt(median(cpuRatios.get(m.name) ?? []), 3)}`);
  }
}

main();
