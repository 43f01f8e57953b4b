/**
 * npm run bench:read-your-writes — command to read model, as a client sees it.
 *
 * Runs the command processor, the gateway, the orders projector and the query
 * API as separate processes (compiled, as production runs them). At a fixed
 * offered rate (open loop, latency from each request's due time) each request
 * opens an order (POST /orders) and then reads it back with the reply's
 * consistency token (GET /orders/:id?consistency=...), which waits until the
 * orders projection has applied the order's event. Measured: command reply,
 * read, and the whole command → read-model time.
 *
 * Beside it, in the same run, the bare pipeline: a kafkajs produce through the
 * same batcher, a kafkajs eachBatch consumer writing each record to Redis in
 * one pipeline per batch, and the time until that write is done. Prints
 * figures and the ratio; asserts nothing about time.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import http from 'node:http';
import Redis from 'ioredis';
import { config } from '../infra/config';
import { ProduceBatcher } from '../infra/kafka/batcher';
import { createKafka } from '../infra/kafka/client';
import { createTopicsLed } from '../infra/kafka/create-topics';
import { rootLogger } from '../infra/logging';
import { partitionFor } from '../schemas/partitioning';
import { projectionGroupId } from '../consumers/projections/runtime/read-models';
import { bearer } from '../test/support/auth';
import { startRole, type RoleProcess } from '../app/chaos/role-process';
import { dueTimes, postJson, quantile, sleep } from './http-load';

const RATE = Number(process.env.BENCH_RYW_RATE ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const PARTITIONS = 6;

const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });
function getStatus(url: string, headers: Readonly<Record<string, string>>): Promise<number> {
  return new Promise((resolve) => {
    http
      .get(url, { agent, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', () => resolve(0));
  });
}

interface Sample {
  readonly command: number;
  readonly read: number;
  readonly total: number;
}

/** `rate` per second for `seconds`, each at its due time; the samples of those that completed. */
async function openLoop(rate: number, seconds: number, one: (i: number, due: number) => Promise<Sample | undefined>): Promise<{ samples: Sample[]; failed: number }> {
  const { results, failed } = await dueTimes(rate, seconds, one);
  return { samples: results, failed };
}

const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const percentiles = (values: number[]): [number, number, number] => {
  values.sort((a, b) => a - b);
  return [quantile(values, 0.5), quantile(values, 0.95), quantile(values, 0.99)];
};

/** The bare pipeline: produce, a raw consumer that writes each record to Redis, and when that write is done. */
async function bareRun(): Promise<{ latencies: number[]; failed: number }> {
  const kafka = createKafka('bench-ryw-bare', rootLogger);
  const topic = `bench.ryw.${randomUUID().slice(0, 8)}`;
  const admin = kafka.admin();
  await admin.connect();
  await createTopicsLed(admin, [{ topic, numPartitions: PARTITIONS, configEntries: [{ name: 'retention.ms', value: '3600000' }] }]);
  const redis = new Redis(config().redis.url);
  const producer = kafka.producer();
  await producer.connect();
  const batcher = new ProduceBatcher(producer, 2);
  const waiting = new Map<string, () => void>();
  const groupId = `bench.ryw.bare.${randomUUID().slice(0, 8)}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.run({
    partitionsConsumedConcurrently: PARTITIONS,
    eachBatch: async ({ batch }) => {
      const pipeline = redis.pipeline();
      for (const m of batch.messages) pipeline.set(`bench:ryw:${m.key?.toString()}`, m.value ?? '', 'EX', 600);
      await pipeline.exec();
      for (const m of batch.messages) waiting.get(m.key?.toString() ?? '')?.();
    },
  });
  await joined;
  try {
    const run = await openLoop(RATE, SECONDS, async (i, due) => {
      const key = `${randomUUID()}-${i}`;
      const applied = new Promise<void>((resolve) => waiting.set(key, resolve));
      try {
        await batcher.send(topic, { key, value: JSON.stringify({ i }), partition: partitionFor(key, PARTITIONS) });
      } catch {
        waiting.delete(key);
        return undefined;
      }
      await applied;
      waiting.delete(key);
      const total = performance.now() - due;
      return { command: total, read: 0, total };
    });
    return { latencies: run.samples.map((s) => s.total), failed: run.failed };
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
    await redis.quit();
  }
}

async function main(): Promise<void> {
  // A keyspace of its own: the bench never reads or writes the live read models.
  const keyspace = `bench-ryw-${randomUUID().slice(0, 8)}`;
  // As bench:commands: the processor's six partitions of each topic on one worker (BENCH_PARTITIONS_PER_WORKER).
  const env = { LOG_LEVEL: 'warn', COMMAND_WAIT_MS: '5000', CONSISTENCY_WAIT_MS: '5000', READ_MODEL_KEYSPACE: keyspace, COMMAND_PARTITIONS_PER_WORKER: process.env.BENCH_PARTITIONS_PER_WORKER ?? '6' };
  const roles: RoleProcess[] = [];
  try {
    for (const role of ['command-processor', 'gateway', 'projector:orders', 'query'] as const) roles.push(await startRole(role, env));
    const [, gateway, , query] = roles as [RoleProcess, RoleProcess, RoleProcess, RoleProcess];
    const run = randomUUID().slice(0, 8);
    // Tokens as clients send them (docs/security.md): one admin token, verified once and then cached by each role.
    const authorization = await bearer('admin', 'bench-read-your-writes');
    const failures = new Map<string, number>();
    const failure = (why: string): undefined => {
      failures.set(why, (failures.get(why) ?? 0) + 1);
      return undefined;
    };
    const roundTrip = async (i: number, due: number): Promise<Sample | undefined> => {
      const reply = await postJson(`${gateway.url}/orders`, { customerId: `ryw-${run}-${i % 1000}` }, authorization);
      const body = reply.body as { aggregateId?: string; consistencyToken?: string } | undefined;
      if (reply.status !== 201 || body?.aggregateId === undefined || body.consistencyToken === undefined) return failure(`POST /orders answered ${reply.status}`);
      const replied = performance.now();
      const status = await getStatus(`${query.queryUrl}/orders/${body.aggregateId}?consistency=${encodeURIComponent(body.consistencyToken)}`, authorization);
      if (status !== 200) return failure(`GET /orders/:id answered ${status}`);
      const done = performance.now();
      return { command: replied - due, read: done - replied, total: done - due };
    };
    // The orders model of a new keyspace is first built from every order event there is; then warm up.
    for (let tries = 0; tries < 600 && (await roundTrip(-1 - tries, performance.now())) === undefined; tries += 1) await sleep(200);
    await openLoop(RATE, Number(process.env.BENCH_WARMUP_SECONDS ?? 10), roundTrip); // JIT, connections, partition state
    failures.clear();
    const ours = await openLoop(RATE, SECONDS, roundTrip);
    const bare = await bareRun();

    const [c50, c95, c99] = percentiles(ours.samples.map((s) => s.command));
    const [r50, r95, r99] = percentiles(ours.samples.map((s) => s.read));
    const [t50, t95, t99] = percentiles(ours.samples.map((s) => s.total));
    const [b50, b95, b99] = percentiles(bare.latencies);
    console.log(`\ncommand → read model at ${RATE}/s offered, ${SECONDS} s (open loop; roles compiled, ${env.COMMAND_PARTITIONS_PER_WORKER} partition(s) per processor worker, 2 cores shared with Kafka, the registry, Redis and the load generator)`);
    console.log('                                       p50      p95      p99 ms   completed  failed');
    console.log(`  command reply (POST /orders)     ${fmt(c50).padStart(8)} ${fmt(c95).padStart(8)} ${fmt(c99).padStart(8)}`);
    console.log(`  read with its token (GET)        ${fmt(r50).padStart(8)} ${fmt(r95).padStart(8)} ${fmt(r99).padStart(8)}`);
    console.log(`  command → read model             ${fmt(t50).padStart(8)} ${fmt(t95).padStart(8)} ${fmt(t99).padStart(8)} ${String(ours.samples.length).padStart(11)} ${String(ours.failed).padStart(7)}`);
    console.log(`  bare: produce → consume → Redis  ${fmt(b50).padStart(8)} ${fmt(b95).padStart(8)} ${fmt(b99).padStart(8)} ${String(bare.latencies.length).padStart(11)} ${String(bare.failed).padStart(7)}`);
    console.log(`  ratio (command → read model / bare), p50 ${fmt(t50 / b50, 2)}, p99 ${fmt(t99 / b99, 2)}`);
    if (failures.size > 0) console.log(`  failed: ${[...failures].map(([why, n]) => `${n} × ${why}`).join(', ')}`);
  } finally {
    await Promise.all(roles.map((r) => r.stop().catch(() => null)));
    const redis = new Redis(config().redis.url);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `rm:{${keyspace}}*`, 'COUNT', 5000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
    await redis.quit();
    const admin = createKafka('bench-ryw-cleanup', rootLogger).admin();
    await admin.connect();
    await admin.deleteGroups([projectionGroupId('orders', keyspace)]).catch(() => undefined);
    await admin.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error('bench failed', error);
  process.exit(1);
});
