/**
 * The query API on the real Redis, asked what an attacker would ask: paths
 * whose percent-encoding does not decode, empty or repeated parameters, tokens
 * naming partitions or topics that do not exist. Each is a 400 with the error
 * shape, at once: never a 503 that tells the client to retry.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { createLiveHub, createQueryApp } from '../../consumers/query-api/app';
import { CheckpointWatcher } from '../../consumers/query-api/consistency';
import { authenticate } from '../../infra/auth/express';
import { mintToken } from '../../infra/auth/local-issuer';
import { topicCatalog } from '../../schemas/topics';
import { claimsFor, memorySigningKey, testVerifier } from '../support/auth';
import { testRedis, unique } from '../support/kafka';
import { dropKeys } from '../support/read-side';

const redis = testRedis();
const subscriber = testRedis();
const keyspace = unique('it-query-input').toLowerCase();
const catalog = topicCatalog({ partitions: 6 });
const WAIT_MS = 5_000;
const watcher = new CheckpointWatcher(redis, subscriber);
const server = http.createServer();
const serving = { redis, keyspace, partitionsOf: (topic: string) => catalog.topic(topic).partitions, consistencyWaitMs: WAIT_MS, checkpoints: watcher };
const live = createLiveHub({ ...serving, logger: pino({ level: 'silent' }) });
let base = '';
/** An admin may read every route, so each refusal below is about the input, not the caller. */
let admin: Record<string, string> = {};

beforeAll(async () => {
  const key = await memorySigningKey();
  admin = { authorization: `Bearer ${await mintToken(key, claimsFor('admin'))}` };
  server.on(
    'request',
    createQueryApp({
      ...serving,
      clock: Date.now,
      logger: pino({ level: 'silent' }),
      authenticate: authenticate(testVerifier(key)),
      orderSettings: { maxOrderTotalMinor: 100_000 },
      live,
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await live.close();
  await new Promise((resolve) => server.close(resolve));
  await watcher.close();
  await dropKeys(redis, `rm:{${keyspace}}:*`);
  await redis.quit();
});

const token = (positions: Record<string, Record<string, number>>): string => Buffer.from(JSON.stringify(positions)).toString('base64url');

async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown; ms: number }> {
  const started = Date.now();
  const res = await fetch(`${base}${path}`, { headers: { ...admin, ...headers } });
  return { status: res.status, body: (await res.json()) as unknown, ms: Date.now() - started };
}

describe('the query API refuses hostile input with a 400 at once', () => {
  it.each([
    '/orders/%ff',
    '/orders/%E0%A4%A',
    '/customers/%/orders',
    '/customers/%c3%28',
    // malformed paging
    '/customers/c-1/orders?limit=',
    '/customers/c-1/orders?offset=',
    '/customers/c-1/orders?limit=1&limit=2',
    '/customers/c-1/orders?offset=0&offset=0',
    '/customers/c-1/orders?limit=99999999999999999999999999',
    // repeated ranges and tokens
    '/stats/sales?from=2025-01-01&from=2025-01-02&to=2025-01-03',
    '/stats/items?from=2025-01-01&to=2025-01-02&to=2025-01-03',
    '/menu?consistency=a&consistency=b',
    // tokens naming what does not exist
    `/orders/o-1?consistency=${token({ 'restaurant.order.events': { '999': 1 } })}`,
    `/orders/o-1?consistency=${token({ 'restaurant.order.events': { '6': 1 } })}`,
    `/menu?consistency=${token({ 'no.such.topic': { '0': 1 } })}`,
    `/menu?consistency=${Buffer.from('{"__proto__":{"0":1}}').toString('base64url')}`,
  ])('GET %s → 400 invalid_request', async (path) => {
    const res = await get(path);
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'invalid_request', message: expect.any(String) } } });
    expect(res.ms).toBeLessThan(WAIT_MS);
  });

  it('the same for a token in X-Consistency-Token', async () => {
    const res = await get('/kitchen/queue', { 'X-Consistency-Token': token({ 'restaurant.order.events': { '123456': 0 } }) });
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'invalid_request', message: expect.stringContaining('partition 123456') } } });
    expect(res.ms).toBeLessThan(WAIT_MS);
  });
});
