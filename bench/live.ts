/**
 * npm run bench:live — from a command's reply to the change on another
 * client's live stream.
 *
 * Runs the command processor, the gateway, the orders projector and the query
 * API as separate processes (compiled, as production runs them). A client
 * watches a customer's orders live (GET /live/customers/:id/orders, server-
 * sent events); there are CUSTOMERS of them, each watched by its own client.
 * At a fixed offered rate (open loop) another client opens orders for them in
 * turn (POST /orders) and, as soon as a reply is in, two things are timed
 * from the reply:
 *
 *   live:  until the new order appears on the watcher's stream;
 *   read-your-writes (the baseline, the same path bench:read-your-writes
 *          measures): until GET /orders/:id with the reply's consistency
 *          token answers.
 *
 * Both see the same commands in the same run, so the ratio is the cost of
 * going live (checkpoint notification → feed read → diff → stream) over
 * waiting for a token. Prints figures and the ratio; asserts nothing about time.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import Redis from 'ioredis';
import { projectionGroupId } from '../consumers/projections/runtime/read-models';
import { config } from '../infra/config';
import { createKafka } from '../infra/kafka/client';
import { rootLogger } from '../infra/logging';
import { bearer } from '../test/support/auth';
import { startRole, type RoleProcess } from '../app/chaos/role-process';
import { SseClient } from '../test/support/sse';
import { dueTimes, postJson, quantile, sleep } from './http-load';

const RATE = Number(process.env.BENCH_LIVE_RATE ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const WAIT_MS = 10_000;
/** Customers, each with a watcher: one order a second each at 50/s, so a new order is always among a watcher's newest 20. */
const CUSTOMERS = Number(process.env.BENCH_LIVE_CUSTOMERS ?? 50);

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
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
  readonly live: number;
  readonly read: number;
}

const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const percentiles = (values: number[]): [number, number, number] => {
  values.sort((a, b) => a - b);
  return [quantile(values, 0.5), quantile(values, 0.95), quantile(values, 0.99)];
};

async function main(): Promise<void> {
  const keyspace = `bench-live-${randomUUID().slice(0, 8)}`;
  const env = { LOG_LEVEL: 'warn', COMMAND_WAIT_MS: '5000', CONSISTENCY_WAIT_MS: '5000', READ_MODEL_KEYSPACE: keyspace };
  const roles: RoleProcess[] = [];
  const watchers: SseClient[] = [];
  try {
    for (const role of ['command-processor', 'gateway', 'projector:orders', 'query'] as const) roles.push(await startRole(role, env));
    const [, gateway, , query] = roles as [RoleProcess, RoleProcess, RoleProcess, RoleProcess];
    const authorization = await bearer('admin', 'bench-live');
    const runId = randomUUID().slice(0, 8);
    const customers = Array.from({ length: CUSTOMERS }, (_, i) => `bench-live-${runId}-${i}`);
    const open = (i: number) => postJson(`${gateway.url}/orders`, { customerId: customers[i % CUSTOMERS] }, authorization);

    // The orders model of a new keyspace is first built from every order event there is; each customer needs an order to be watched.
    for (let i = 0; i < CUSTOMERS; i += 1) {
      const first = (await open(i)).body as { aggregateId: string; consistencyToken: string };
      for (let tries = 0; tries < 900; tries += 1) {
        if ((await getStatus(`${query.queryUrl}/orders/${first.aggregateId}?consistency=${first.consistencyToken}`, authorization)) === 200) break;
        await sleep(200);
      }
    }
    const seen = new Map<string, number>();
    const waiting = new Map<string, (at: number) => void>();
    for (const customerId of customers) {
      const opened = await SseClient.open(`${query.queryUrl}/live/customers/${customerId}/orders`, authorization, { keep: false });
      if (!opened.ok) throw new Error(`the live stream answered ${opened.status}: ${JSON.stringify(opened.body)}`);
      watchers.push(opened.stream);
      opened.stream.onEvent((event) => {
        if (event.event !== 'change') return;
        for (const { orderId } of (JSON.parse(event.data) as { upserted: { orderId: string }[] }).upserted) {
          if (seen.has(orderId)) continue;
          seen.set(orderId, event.at);
          waiting.get(orderId)?.(event.at);
        }
      });
    }
    const appeared = (orderId: string): Promise<number | undefined> => {
      const at = seen.get(orderId);
      if (at !== undefined) return Promise.resolve(at);
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(undefined), WAIT_MS);
        waiting.set(orderId, (t) => {
          clearTimeout(timer);
          waiting.delete(orderId);
          resolve(t);
        });
      });
    };

    const failures = new Map<string, number>();
    const failure = (why: string): undefined => {
      failures.set(why, (failures.get(why) ?? 0) + 1);
      return undefined;
    };
    const one = async (i: number): Promise<Sample | undefined> => {
      const reply = await open(i);
      const replied = performance.now();
      const body = reply.body as { aggregateId?: string; consistencyToken?: string } | undefined;
      if (reply.status !== 201 || body?.aggregateId === undefined || body.consistencyToken === undefined) return failure(`POST /orders answered ${reply.status}`);
      const orderId = body.aggregateId;
      const [onStream, status] = await Promise.all([
        appeared(orderId),
        getStatus(`${query.queryUrl}/orders/${orderId}?consistency=${encodeURIComponent(body.consistencyToken)}`, authorization).then((s) => ({ s, at: performance.now() })),
      ]);
      if (status.s !== 200) return failure(`GET /orders/:id answered ${status.s}`);
      if (onStream === undefined) return failure(`not on the live stream within ${WAIT_MS} ms`);
      // A change can reach the stream before the reply reaches the client: that is 0 ms of waiting.
      return { live: Math.max(0, onStream - replied), read: status.at - replied };
    };
    await dueTimes(RATE, Number(process.env.BENCH_WARMUP_SECONDS ?? 5), one); // JIT, connections, the feed
    failures.clear();
    const run = await dueTimes(RATE, SECONDS, one);

    const [l50, l95, l99] = percentiles(run.results.map((s) => s.live));
    const [r50, r95, r99] = percentiles(run.results.map((s) => s.read));
    console.log(`\ncommand reply → change seen, at ${RATE} orders/s offered to ${CUSTOMERS} customers each watched live, ${SECONDS} s (open loop; roles compiled; 2 cores shared with Kafka, the registry, Redis and the load generator)`);
    console.log('                                                   p50      p95      p99 ms   completed  failed');
    console.log(`  live: on another client's SSE stream        ${fmt(l50).padStart(8)} ${fmt(l95).padStart(8)} ${fmt(l99).padStart(8)} ${String(run.results.length).padStart(11)} ${String(run.failed).padStart(7)}`);
    console.log(`  read-your-writes: GET with the reply's token ${fmt(r50).padStart(7)} ${fmt(r95).padStart(8)} ${fmt(r99).padStart(8)}`);
    console.log(`  ratio (live / read-your-writes), p50 ${fmt(l50 / r50, 2)}, p99 ${fmt(l99 / r99, 2)}`);
    if (failures.size > 0) console.log(`  failed: ${[...failures].map(([why, n]) => `${n} × ${why}`).join(', ')}`);
  } finally {
    await Promise.all(watchers.map((w) => w.close()));
    await Promise.all(roles.map((r) => r.stop().catch(() => null)));
    const redis = new Redis(config().redis.url);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `rm:{${keyspace}}*`, 'COUNT', 5000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
    await redis.quit();
    const admin = createKafka('bench-live-cleanup', rootLogger).admin();
    await admin.connect();
    await admin.deleteGroups([projectionGroupId('orders', keyspace)]).catch(() => undefined);
    await admin.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error('bench failed', error);
  process.exit(1);
});
