/**
 * The live kitchen board under load (the SSE test): 200 concurrent
 * subscribers on /live/kitchen while orders flow through the real gateway at
 * 50/s (each confirmed, prepared and made ready, so tickets join, change and
 * leave the board). Every subscriber must get every change the server
 * published, in order (gapless ids, one identical sequence for all), their
 * boards must end equal to GET /kitchen/queue, and the query API's memory
 * must stay flat between the start and the end of the flow.
 *
 * RATE, SECONDS and SUBSCRIBERS can be set with LIVE_LOAD_RATE,
 * LIVE_LOAD_SECONDS and LIVE_LOAD_SUBSCRIBERS.
 */
import { createHash } from 'node:crypto';
import { postJson } from '../../bench/http-load';
import { liveHeapBytes } from '../support/heap';
import { waitFor } from '../../infra/wait-for';
import { expectStatus, startRestaurant, type Restaurant } from '../support/live';
import { freePort } from '../../app/chaos/role-process';
import type { SseClient, SseEvent } from '../support/sse';

jest.setTimeout(600_000);

const RATE = Number(process.env.LIVE_LOAD_RATE ?? 50);
const SECONDS = Number(process.env.LIVE_LOAD_SECONDS ?? 20);
const SUBSCRIBERS = Number(process.env.LIVE_LOAD_SUBSCRIBERS ?? 200);
/** Subscribers that also parse every change and rebuild the board (all of them hash what they get). */
const CHECKED = 10;
/** Customers placing the load's orders, each for themselves. */
const SHOPPERS = 20;

interface Ticket {
  readonly orderId: string;
  readonly status: 'CONFIRMED' | 'PREPARING';
  readonly actions: readonly string[];
}
type Change = { readonly upserted: readonly Ticket[]; readonly removed: readonly string[] };

/** What one subscriber saw: a hash of every change in order, the numbers of the ids, and (for some) the board. */
class Watcher {
  readonly hash = createHash('sha256');
  changes = 0;
  snapshots = 0;
  epoch = '';
  first = -1;
  last = -1;
  gaps = 0;
  outOfOrder: string[] = [];
  readonly board = new Map<string, Ticket>();
  readonly statuses = new Map<string, string>();

  constructor(
    readonly stream: SseClient,
    private readonly parse: boolean,
  ) {
    stream.onEvent((e) => this.on(e));
  }

  private on(e: SseEvent): void {
    const dot = (e.id ?? '').lastIndexOf('.');
    const [epoch, n] = [(e.id ?? '').slice(0, dot), Number((e.id ?? '').slice(dot + 1))];
    if (e.event === 'snapshot') {
      this.snapshots += 1;
      this.epoch = epoch;
      this.first = n;
      this.last = n;
      if (this.parse) for (const t of (JSON.parse(e.data) as { queue: Ticket[] }).queue) this.board.set(t.orderId, t);
      return;
    }
    if (epoch !== this.epoch || n !== this.last + 1) this.gaps += 1;
    this.last = n;
    this.changes += 1;
    this.hash.update(`${e.id}\n${e.data}\n`);
    if (!this.parse) return;
    const change = JSON.parse(e.data) as Change;
    for (const t of change.upserted) {
      // A ticket's status only moves forward: CONFIRMED, then PREPARING.
      if (this.statuses.get(t.orderId) === 'PREPARING' && t.status === 'CONFIRMED') this.outOfOrder.push(t.orderId);
      this.statuses.set(t.orderId, t.status);
      this.board.set(t.orderId, t);
    }
    for (const id of change.removed) this.board.delete(id);
  }
}

interface Memory {
  readonly rss: number;
  readonly heap: number;
}

/** The query API's resident memory (its /metrics) and its live heap after a full collection (its inspector). */
async function memoryOf(r: Restaurant): Promise<Memory> {
  const heap = await liveHeapBytes(inspectorPort);
  const text = await (await fetch(`${r.query.opsUrl}/metrics`)).text();
  const rss = Number(/^process_resident_memory_bytes (\S+)/m.exec(text)?.[1] ?? NaN);
  return { rss, heap };
}

const MB = 1024 * 1024;
let r: Restaurant;
let inspectorPort = 0;
const watchers: Watcher[] = [];

beforeAll(async () => {
  inspectorPort = await freePort();
  r = await startRestaurant('e2e-live-load', {}, { NODE_OPTIONS: `--inspect=127.0.0.1:${inspectorPort}` });
});

afterAll(async () => {
  await Promise.all(watchers.map((w) => w.stream.close()));
  await r.stop();
});

it(`${SUBSCRIBERS} subscribers of one kitchen board each get every change, in order, while orders are offered at ${RATE}/s; the query API's memory stays flat`, async () => {
  const dish = await r.dish('Load lasagne', 1100);
  const admin = r.staff.admin;
  const kinds = [r.staff.kitchen, r.staff.manager, admin];
  for (let i = 0; i < SUBSCRIBERS; i += 1) {
    const opened = await r.live(kinds[i % kinds.length] ?? admin, '/live/kitchen', {});
    if (!opened.ok) throw new Error(`subscriber ${i} refused: ${opened.status}`);
    watchers.push(new Watcher(opened.stream, i < CHECKED));
  }
  await waitFor('every snapshot', async () => (watchers.every((w) => w.snapshots === 1) ? true : undefined));

  // Each order: open, fill, place, confirm (joins the board), start preparing (changes), ready (leaves).
  const failures: string[] = [];
  // node's http client over keep-alive connections: the load generator shares the cores with what it measures.
  const step = async (path: string, body: unknown = {}, who: Record<string, string> = admin): Promise<Record<string, unknown>> => {
    const reply = await postJson(`${r.gateway}${path}`, body, who);
    if (reply.status >= 300 || reply.status === 0) failures.push(`${path} ${reply.status}`);
    return (reply.body ?? {}) as Record<string, unknown>;
  };
  // The gateway's menu view sees a new dish a moment after it was added.
  const probe = expectStatus(await r.post(admin, '/orders', { customerId: 'load-probe' }), 201, 'probe').body.aggregateId as string;
  await waitFor('the dish priced by the gateway', async () => ((await r.post(admin, `/orders/${probe}/items`, { menuItemId: dish, quantity: 1 })).status === 200 ? true : undefined));
  // Customers who signed up order for themselves, as in the restaurant: their own key seals their address (docs/privacy.md).
  const shoppers = await Promise.all(Array.from({ length: SHOPPERS }, (_, i) => r.customer(`load-shopper-${i}`)));
  const order = async (i: number): Promise<string> => {
    const shopper = (shoppers[i % SHOPPERS] as (typeof shoppers)[number]).auth;
    const orderId = (await step('/orders', {}, shopper)).aggregateId as string;
    await step(`/orders/${orderId}/items`, { menuItemId: dish, quantity: 1 }, shopper);
    await step(`/orders/${orderId}/delivery-address`, { address: { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' } }, shopper);
    await step(`/orders/${orderId}/place`, {}, shopper);
    await step(`/orders/${orderId}/confirm`);
    await step(`/orders/${orderId}/start-preparation`);
    await step(`/orders/${orderId}/ready`);
    return orderId;
  };

  const total = RATE * SECONDS;
  const started = performance.now();
  const flows: Promise<string>[] = [];
  let before: Memory | undefined;
  // Offered at RATE; at most MAX_IN_FLIGHT orders under way, so an overloaded machine slows the flow down
  // (the achieved rate is printed) instead of queueing requests until they time out.
  let inFlight = 0;
  const MAX_IN_FLIGHT = 100;
  const freed: (() => void)[] = [];
  for (let i = 0; i < total; i += 1) {
    const due = started + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    while (inFlight >= MAX_IN_FLIGHT) await new Promise<void>((resolve) => freed.push(resolve));
    inFlight += 1;
    flows.push(
      order(i).finally(() => {
        inFlight -= 1;
        freed.shift()?.();
      }),
    );
    // The baseline after a few seconds of flow: connections, JIT and the feed's history warmed up.
    if (i === RATE * 5) before = await memoryOf(r);
  }
  const orderIds = await Promise.all(flows);
  const elapsed = (performance.now() - started) / 1000;
  expect(failures).toEqual([]);

  // Settled: the board is empty again (every order made ready) and every subscriber is at the same last change.
  const truth = await waitFor('the board empty again', async () => {
    const queue = (await r.get(r.staff.kitchen, '/kitchen/queue')).body.queue as Ticket[];
    return queue.filter((t) => orderIds.includes(t.orderId)).length === 0 ? queue : undefined;
  }, 60_000);
  await waitFor('every subscriber at the same last change', async () => {
    const last = watchers[0]?.last;
    return watchers.every((w) => w.last === last) && watchers[0]?.board.size === truth.length ? true : undefined;
  }, 60_000);
  const after = await memoryOf(r);

  // Subscribers of one kind (kitchen, manager, admin: their actions differ) got byte-for-byte the same changes.
  const digests = new Set(watchers.map((w, i) => `${i % kinds.length}:${w.hash.copy().digest('hex')}`));
  const changes = watchers[0]?.changes ?? 0;
  console.log(
    `live kitchen board: ${SUBSCRIBERS} subscribers, ${orderIds.length} orders in ${elapsed.toFixed(1)} s (${(orderIds.length / elapsed).toFixed(1)}/s), ` +
      `${changes} changes to each; query API RSS ${(before?.rss ?? NaN) / MB | 0} → ${after.rss / MB | 0} MB, heap ${(before?.heap ?? NaN) / MB | 0} → ${after.heap / MB | 0} MB`,
  );
  expect(watchers.map((w) => [w.snapshots, w.gaps, w.changes])).toEqual(watchers.map(() => [1, 0, changes]));
  expect(digests.size).toBe(Math.min(kinds.length, SUBSCRIBERS));
  // Every order's ticket was seen on the board, in lifecycle order, and left it.
  for (const w of watchers.filter((x) => x.statuses.size > 0)) {
    expect(w.outOfOrder).toEqual([]);
    expect(orderIds.filter((id) => !w.statuses.has(id)).length).toBeLessThan(orderIds.length * 0.05);
    expect([...w.board.keys()].sort()).toEqual(truth.map((t) => t.orderId).sort());
  }
  // Flat: the feed keeps at most 1024 changes (a few MB); a leak of even 1 KB per change to each subscriber
  // would add a hundred MB or more of live heap here.
  if (before === undefined) throw new Error('no memory baseline');
  expect(after.heap - before.heap).toBeLessThan(24 * MB);
  expect(after.rss - before.rss).toBeLessThan(96 * MB);
});
