// The benches' HTTP load generator. It shares the two cores with the system
// under test, so it is kept cheap: node's http client over keep-alive
// connections (about half the CPU per request of the built-in fetch), and an
// open loop that sends each request at its due time and measures latency from
// that time, so a slow server cannot hide its queueing.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface Result {
  readonly offered: number | 'max';
  readonly sent: number;
  readonly accepted: number;
  readonly other: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

/** One request of a load: resolves true when it was accepted (2xx of the kind the bench wants). */
export type Request = (i: number) => Promise<boolean>;

const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function summarize(offered: number | 'max', latencies: number[], accepted: number, sent: number, elapsedMs: number): Result {
  latencies.sort((a, b) => a - b);
  return {
    offered,
    sent,
    accepted,
    other: sent - accepted,
    perSecond: (accepted * 1000) / elapsedMs,
    p50: quantile(latencies, 0.5),
    p95: quantile(latencies, 0.95),
    p99: quantile(latencies, 0.99),
  };
}

/** POSTs JSON; resolves with the status and the parsed body (undefined when not JSON), or status 0 when the connection failed. */
export function postJson(url: string, body: unknown, headers: Readonly<Record<string, string>> = {}): Promise<{ status: number; body: unknown }> {
  const payload = JSON.stringify(body);
  const target = new URL(url);
  return new Promise((resolve) => {
    const req = http.request(
      { agent, host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          let parsed: unknown;
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', () => resolve({ status: 0, body: undefined }));
      },
    );
    req.on('error', () => resolve({ status: 0, body: undefined }));
    req.end(payload);
  });
}

/** POSTs JSON; true on 200 or 201. */
export async function post(url: string, body: unknown, headers: Readonly<Record<string, string>> = {}): Promise<boolean> {
  const { status } = await postJson(url, body, headers);
  return status === 200 || status === 201;
}

/**
 * Runs `one(i, due)` `rate` times per second for `seconds`, each at its due
 * time whatever the server's pace; collects what each returns (undefined: it
 * failed).
 */
export async function dueTimes<T>(rate: number, seconds: number, one: (i: number, due: number) => Promise<T | undefined>): Promise<{ results: T[]; failed: number; elapsedMs: number }> {
  const total = Math.round(rate * seconds);
  const results: T[] = [];
  let failed = 0;
  const inflight: Array<Promise<void>> = [];
  const start = performance.now();
  let i = 0;
  while (i < total) {
    const now = performance.now();
    while (i < total && start + (i * 1000) / rate <= now) {
      const due = start + (i * 1000) / rate;
      inflight.push(
        one(i, due).then((result) => {
          if (result === undefined) failed += 1;
          else results.push(result);
        }),
      );
      i += 1;
    }
    await sleep(1);
  }
  await Promise.all(inflight);
  return { results, failed, elapsedMs: performance.now() - start };
}

/** Sends `rate` requests per second for `seconds`, each at its due time, whatever the server's pace. */
export async function openLoop(rate: number, seconds: number, request: Request, offset: number): Promise<Result> {
  let accepted = 0;
  const run = await dueTimes(rate, seconds, async (i, due) => {
    const ok = await request(offset + i);
    if (ok) accepted += 1;
    return performance.now() - due;
  });
  return summarize(rate, run.results, accepted, run.results.length + run.failed, run.elapsedMs);
}

/** As fast as `concurrency` clients can go, for `seconds`. */
export async function closedLoop(concurrency: number, seconds: number, request: Request, offset: number): Promise<Result> {
  const latencies: number[] = [];
  let accepted = 0;
  let sent = 0;
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const ok = await request(offset + sent++);
        latencies.push(performance.now() - t0);
        if (ok) accepted += 1;
      }
    }),
  );
  return summarize('max', latencies, accepted, sent, performance.now() - start);
}
