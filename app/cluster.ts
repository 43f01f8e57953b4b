/**
 * npm run cluster — the restaurant scaled out on this machine: the local stack
 * as a three-node Kafka cluster (STACK_BROKERS, default 3 here; started if it
 * is not running), the topics declared with their replication, then every role
 * twice (CLUSTER_INSTANCES, default 2), each instance a process of its own on
 * ports of its own (cluster-plan.ts). It prints where each instance is and
 * keeps their output in .local/logs/cluster/<instance>.log. Ctrl-C stops every
 * instance (each finishes or aborts its transaction, as on SIGTERM) and leaves
 * the stack running; `npm run stack:down` stops that.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { config } from '../infra/config';
import { createKafka } from '../infra/kafka/client';
import { AvroCodec } from '../infra/kafka/codec';
import { allTopicSpecs, applyTopics, registerSubjects, TopicDriftError } from '../infra/kafka/topics';
import { listening, tailOf } from '../infra/stack/processes';
import { allServices } from '../infra/stack/services';
import { readStackSettings, repoRoot } from '../infra/stack/settings';
import { up } from '../infra/stack/stack';
import { ClusterPlanError, planCluster, type PlannedInstance } from './cluster-plan';

interface Started {
  readonly plan: PlannedInstance;
  readonly child: ChildProcess;
  readonly logFile: string;
  exited: boolean;
}

const say = (line: string): void => console.log(line);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function int(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new ClusterPlanError(`${name}=${JSON.stringify(raw)} is not a positive whole number`);
  return value;
}

async function declareTopics(): Promise<void> {
  const specs = allTopicSpecs();
  const admin = createKafka('cluster').admin();
  await admin.connect();
  try {
    const result = await applyTopics(admin, specs);
    if (result.drift.length > 0) throw new TopicDriftError(result.drift);
    const { replicationFactor, minInsyncReplicas } = config().topics;
    say(`topics: ${result.created.length} created, ${result.verified.length} verified; ${replicationFactor} replica(s) each, min.insync.replicas ${minInsyncReplicas}`);
  } finally {
    await admin.disconnect();
  }
  await registerSubjects(new AvroCodec(new SchemaRegistry({ host: config().registry.url })), specs);
}

function launch(plan: PlannedInstance, logDir: string): Started {
  const logFile = path.join(logDir, `${plan.name}.log`);
  const log = fs.openSync(logFile, 'a');
  // node with tsx as a loader: the pid we signal is the role itself.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'app', 'main.ts')], {
    cwd: repoRoot,
    env: { ...process.env, LOG_FORMAT: process.env.LOG_FORMAT ?? 'json', ...plan.env },
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  const started: Started = { plan, child, logFile, exited: false };
  child.once('exit', () => (started.exited = true));
  return started;
}

async function ready(instance: Started): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${instance.plan.opsPort}/readyz`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** SIGTERM to every instance, then waits (main.ts ends a shutdown that hangs after 15 s; SIGKILL after 20 s). */
async function stopAll(instances: readonly Started[]): Promise<void> {
  const running = instances.filter((i) => !i.exited);
  running.forEach((i) => i.child.kill('SIGTERM'));
  const deadline = Date.now() + 20_000;
  while (running.some((i) => !i.exited) && Date.now() < deadline) await sleep(100);
  const stuck = running.filter((i) => !i.exited);
  stuck.forEach((i) => i.child.kill('SIGKILL'));
  say(`stopped ${running.length - stuck.length} instance(s)${stuck.length > 0 ? `, killed ${stuck.map((i) => i.plan.name).join(', ')}` : ''}; the stack keeps running (npm run stack:down stops it)`);
}

function table(instances: readonly Started[]): string {
  const rows = instances.map(({ plan, child, logFile }) => {
    const http = plan.httpPort === undefined ? '' : `http://127.0.0.1:${plan.httpPort}`;
    return `  ${plan.name.padEnd(20)} pid ${String(child.pid).padEnd(8)} ${http.padEnd(24)} ops http://127.0.0.1:${plan.opsPort}/readyz   ${path.relative(repoRoot, logFile)}`;
  });
  return rows.join('\n');
}

async function main(): Promise<number> {
  // Before any configuration is read (config() reads on first use): the cluster's default size.
  process.env.STACK_BROKERS ??= '3';
  const settings = readStackSettings();
  say(`stack: ${settings.kafka.brokers.length} Kafka node(s), each a broker and a controller; starting what is not running`);
  await up(settings, say);
  await declareTopics();

  // The stack's own ports are not for the instances.
  const taken = new Map(allServices(settings).flatMap((s) => s.ports.map((p) => [p.port, s.name] as const)));
  const plan = planCluster(int('CLUSTER_INSTANCES', 2), { port: int('PORT', 3000), queryPort: int('QUERY_PORT', 3001), webPort: int('WEB_PORT', 3002), healthPort: int('HEALTH_PORT', 9464) }, taken);
  for (const p of plan) {
    for (const port of [p.httpPort, p.opsPort]) {
      if (port !== undefined && (await listening('127.0.0.1', port))) throw new ClusterPlanError(`port ${port} (${p.name}) is in use: stop what holds it, or move PORT, QUERY_PORT, WEB_PORT or HEALTH_PORT`);
    }
  }

  const logDir = path.join(settings.logDir, 'cluster');
  fs.mkdirSync(logDir, { recursive: true });
  say(`starting ${plan.length} instances (${plan.map((p) => p.name).join(', ')})`);
  const instances = plan.map((p) => launch(p, logDir));
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    say('\nstopping every instance');
    void stopAll(instances).then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  const startedAt = Date.now();
  const timeoutMs = int('CLUSTER_START_TIMEOUT_S', 300) * 1000;
  const waiting = new Set(instances);
  while (waiting.size > 0 && !stopping) {
    for (const instance of [...waiting]) {
      if (instance.exited) {
        say(`${instance.plan.name} exited while starting; last lines of ${instance.logFile}:\n${tailOf(instance.logFile, 20)}`);
        await stopAll(instances);
        return 1;
      }
      if (await ready(instance)) {
        waiting.delete(instance);
        say(`  ${instance.plan.name} ready after ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
      }
    }
    if (Date.now() - startedAt > timeoutMs) {
      say(`not ready within ${timeoutMs / 1000} s (CLUSTER_START_TIMEOUT_S): ${[...waiting].map((i) => i.plan.name).join(', ')}`);
      await stopAll(instances);
      return 1;
    }
    await sleep(250);
  }
  if (stopping) return new Promise<number>(() => undefined); // stop() exits
  say(`\nThe restaurant runs scaled out: ${instances.length} instances on ${config().kafka.brokers.join(',')}\n${table(instances)}\n`);
  say('  Any gateway takes any command, any query API answers any query (docs/cluster.md). Stop with Ctrl-C.');
  for (const instance of instances) {
    instance.child.once('exit', (code, signal) => {
      if (!stopping) say(`${instance.plan.name} exited (${signal ?? `code ${code}`}); the others keep running. Last lines of ${instance.logFile}:\n${tailOf(instance.logFile, 10)}`);
    });
  }
  return new Promise<number>(() => undefined); // runs until Ctrl-C
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`cluster: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
