/**
 * A live stream whose client stops reading costs the server a bounded amount
 * of memory (docs/live-updates.md, "Slow clients and memory"): the stream
 * stops writing when the socket's buffer is full, the subscriber stays a
 * cursor into the feed, and once it is further behind than the feed keeps it
 * gets one snapshot of the current state instead of every change.
 *
 * Real sockets and a real HTTP server; the feed's source is an in-memory
 * collection so the test can make big changes fast (the Redis reads are the
 * e2e tests' business).
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import express from 'express';
import pino from 'pino';
import { CollectionFeed, type CollectionSource } from '../../consumers/query-api/live/feed';
import { LiveHub } from '../../consumers/query-api/live/hub';
import type { SseStream } from '../../consumers/query-api/live/sse';
import { streamFeed } from '../../consumers/query-api/live/stream';
import { waitFor } from '../../infra/wait-for';

interface Blob {
  readonly id: string;
  readonly body: string;
}

const HISTORY = 16;
const CHANGE_BYTES = 256 * 1024;
const CHANGES = 400; // 100 MB if the server queued them all

let items: Blob[] = [{ id: 'a', body: '' }];
const source: CollectionSource<Blob> = { model: 'kitchen', read: async () => items, idOf: (b) => b.id };
const logger = pino({ level: 'silent' });
const hub = new LiveHub({
  servingIfWhole: async () => 'test',
  listen: async () => () => undefined,
  logger,
  settings: { historySize: HISTORY, pollMs: 3_600_000, idleMs: 3_600_000, heartbeatMs: 3_600_000 },
});
let feed: CollectionFeed<Blob>;
const server = http.createServer();
let port = 0;
let stream: SseStream | undefined;

beforeAll(async () => {
  const made = await hub.feed('blobs', source);
  if (made === undefined) throw new Error('feed did not start');
  feed = made;
  const app = express();
  app.get('/live', (req, res) => {
    res.locals.principal = { subject: 'k', roles: ['kitchen'] };
    stream = streamFeed(req, res, feed, { snapshot: (all) => ({ items: all }), entry: (b) => b, callerKind: () => 'k' }, { live: hub, clock: Date.now });
  });
  server.on('request', app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await hub.close();
  await new Promise((resolve) => server.close(resolve));
});

it('stops writing to a client that does not read, and sends it a snapshot once it reads again', async () => {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('utf8');
  });
  socket.write(`GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
  await waitFor('the first snapshot', async () => (received.includes('event: snapshot') ? true : undefined));
  socket.pause(); // a client that stops reading

  for (let i = 0; i < CHANGES; i += 1) {
    items = [{ id: 'a', body: String(i % 10).repeat(CHANGE_BYTES) }];
    await feed.sync();
  }
  expect(feed.current.seq).toBe(CHANGES);
  // The feed kept only its last HISTORY changes; the stalled stream is paused, its cursor far behind.
  expect(feed.changeAt(1)).toBeUndefined();
  expect(stream?.writable).toBe(false);
  expect(stream?.closed).toBe(false);

  received = '';
  socket.resume();
  const lastId = `id: ${feed.idOf(CHANGES)}`;
  await waitFor('the stream caught up', async () => (received.includes(lastId) ? true : undefined), 30_000, 50);
  socket.destroy();
  // It got the state once (a snapshot), not the hundreds of changes in between.
  expect(received).toContain('event: snapshot');
  const changes = received.split('event: change').length - 1;
  expect(changes).toBeLessThanOrEqual(HISTORY);
  expect(received.length).toBeLessThan(40 * CHANGE_BYTES);
});
