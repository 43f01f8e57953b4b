/**
 * Tasks from the state and live updates, against the real roles (gateway and
 * command processor, projectors, query API as processes; real Kafka, registry
 * and Redis): documents carry the actions the deciders would accept for the
 * caller, the courier queue follows ready orders, and the SSE streams send
 * every change, resume with Last-Event-ID and keep to the GET's read rules.
 */
import { waitFor } from '../../infra/wait-for';
import { expectStatus, startRestaurant, type Restaurant } from '../support/live';
import type { SseClient, SseOpen } from '../support/sse';

jest.setTimeout(300_000);

let r: Restaurant;
let dish = '';
let ada: { id: string; auth: Record<string, string> };
let bob: { id: string; auth: Record<string, string> };
const open: SseClient[] = [];

beforeAll(async () => {
  r = await startRestaurant('e2e-live', { LIVE_HEARTBEAT_MS: '300' });
  dish = await r.dish('Live lasagne', 1250);
  ada = await r.customer('ada');
  bob = await r.customer('bob');
});

afterAll(async () => {
  await Promise.all(open.map((s) => s.close()));
  await r.stop();
});

const stream = (opened: SseOpen): SseClient => {
  if (!opened.ok) throw new Error(`stream refused: ${opened.status} ${JSON.stringify(opened.body)}`);
  open.push(opened.stream);
  return opened.stream;
};

interface Doc {
  readonly orderId: string;
  readonly status: string;
  readonly version: number;
  readonly actions: readonly string[];
}
type Change<T> = { readonly upserted: readonly T[]; readonly removed: readonly string[] };

describe('actions on documents', () => {
  it("offers a customer's basket tasks to its owner only, and follows the order through kitchen and courier", async () => {
    const orderId = expectStatus(await r.post(ada.auth, '/orders', {}), 201, 'open').body.aggregateId as string;
    const opened = await r.get(ada.auth, `/orders/${orderId}`, (await r.post(ada.auth, `/orders/${orderId}/delivery-address`, { address: { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' } })).body.consistencyToken as string);
    expect(opened.body.actions).toEqual(['addItem', 'setDeliveryAddress', 'cancel']);
    expect((await r.get(bob.auth, `/orders/${orderId}`)).status).toBe(404);

    const { orderId: placedId, token } = await r.placedOrder(ada.auth, dish);
    expect((await r.get(ada.auth, `/orders/${placedId}`, token)).body.actions).toEqual(['cancel']);
    const mine = await r.get(ada.auth, `/customers/${ada.id}/orders`, token);
    const actionsOf = new Map((mine.body.items as Doc[]).map((d) => [d.orderId, d.actions]));
    expect(actionsOf.get(placedId)).toEqual(['cancel']);
    expect(actionsOf.get(orderId)).toEqual(['addItem', 'setDeliveryAddress', 'cancel']);
    expect((await r.get(r.staff.admin, `/orders/${placedId}`, token)).body.actions).toEqual(['cancel', 'confirm', 'reject']);

    const confirmed = expectStatus(await r.post(r.staff.admin, `/orders/${placedId}/confirm`), 200, 'confirm').body.consistencyToken as string;
    const board = await r.get(r.staff.kitchen, '/kitchen/queue', confirmed);
    expect((board.body.queue as Doc[]).find((t) => t.orderId === placedId)?.actions).toEqual(['startPreparation']);
    const managerBoard = await r.get(r.staff.manager, '/kitchen/queue', confirmed);
    expect((managerBoard.body.queue as Doc[]).find((t) => t.orderId === placedId)?.actions).toEqual([]);

    // A stale screen: the basket's "addItem" after placing is refused by the decider.
    expect((await r.post(ada.auth, `/orders/${placedId}/items`, { menuItemId: dish, quantity: 1 })).status).toBe(409);

    await r.post(r.staff.kitchen, `/orders/${placedId}/start-preparation`);
    const ready = expectStatus(await r.post(r.staff.kitchen, `/orders/${placedId}/ready`), 200, 'ready').body.consistencyToken as string;
    const courier = await r.get(r.staff.courier, '/courier/queue', ready);
    expect((courier.body.queue as Doc[]).find((e) => e.orderId === placedId)).toMatchObject({ status: 'READY', actions: ['dispatch'], deliveryAddress: { city: 'Amsterdam' } });
    expect((await r.get(r.staff.kitchen, '/kitchen/queue', ready)).body.queue).not.toContainEqual(expect.objectContaining({ orderId: placedId }));
    const dispatched = expectStatus(await r.post(r.staff.courier, `/orders/${placedId}/dispatch`), 200, 'dispatch').body.consistencyToken as string;
    expect(((await r.get(r.staff.courier, '/courier/queue', dispatched)).body.queue as Doc[]).find((e) => e.orderId === placedId)).toMatchObject({ status: 'DISPATCHED', actions: ['deliver'] });
    expect((await r.get(r.staff.manager, '/courier/queue', dispatched)).status).toBe(200);
    expect((await r.get(ada.auth, '/courier/queue')).status).toBe(403);
    const delivered = expectStatus(await r.post(r.staff.courier, `/orders/${placedId}/deliver`), 200, 'deliver').body.consistencyToken as string;
    expect((await r.get(r.staff.courier, '/courier/queue', delivered)).body.queue).not.toContainEqual(expect.objectContaining({ orderId: placedId }));
    expect((await r.get(ada.auth, `/orders/${placedId}`, delivered)).body).toMatchObject({ status: 'DELIVERED', actions: [] });
  });

  it('offers managers the menu toggles and customers only what they can order', async () => {
    const soldOut = expectStatus(await r.post(r.staff.manager, `/menu/items/${dish}/sold-out`), 200, 'sold out').body.consistencyToken as string;
    const item = (body: Record<string, unknown>) =>
      (body.categories as { items: { menuItemId: string; actions: string[] }[] }[]).flatMap((c) => c.items).find((i) => i.menuItemId === dish);
    expect(item((await r.get(r.staff.manager, '/menu', soldOut)).body)?.actions).toEqual(['changePrice', 'markAvailable', 'remove']);
    expect(item((await r.get(ada.auth, '/menu', soldOut)).body)?.actions).toEqual([]);
    const back = expectStatus(await r.post(r.staff.manager, `/menu/items/${dish}/available`), 200, 'available').body.consistencyToken as string;
    expect(item((await r.get(ada.auth, '/menu', back)).body)?.actions).toEqual(['addToOrder']);
  });
});

describe('live streams', () => {
  it("sends an order's snapshot and then each change in order, and resumes after Last-Event-ID with exactly what was missed", async () => {
    const { orderId, token } = await r.placedOrder(ada.auth, dish);
    const s = stream(await r.live(ada.auth, `/live/orders/${orderId}?consistency=${token}`));
    const first = await s.next((e) => e.event === 'snapshot');
    expect(JSON.parse(first.data)).toMatchObject({ orderId, status: 'PLACED', actions: ['cancel'] });
    expect(first.id).toBe(String((JSON.parse(first.data) as Doc).version));

    await r.post(r.staff.admin, `/orders/${orderId}/confirm`);
    await s.next((e) => e.event === 'change' && (JSON.parse(e.data) as Doc).status === 'CONFIRMED');
    await r.post(r.staff.kitchen, `/orders/${orderId}/start-preparation`);
    await s.next((e) => e.event === 'change' && (JSON.parse(e.data) as Doc).status === 'PREPARING');
    const versions = s.data<Doc>().map((d) => d.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
    const lastId = s.lastId as string;
    await s.close();

    // Missed while away: two steps. The reconnect gets the document as it is now, once.
    await r.post(r.staff.kitchen, `/orders/${orderId}/ready`);
    const dispatched = (await r.post(r.staff.courier, `/orders/${orderId}/dispatch`)).body.consistencyToken as string;
    await r.get(ada.auth, `/orders/${orderId}`, dispatched);
    const again = stream(await r.live(ada.auth, `/live/orders/${orderId}`, { 'Last-Event-ID': lastId }));
    const caughtUp = await again.next((e) => e.event === 'change');
    expect(JSON.parse(caughtUp.data)).toMatchObject({ status: 'DISPATCHED', actions: [] });
    expect(again.events.filter((e) => e.event === 'snapshot')).toEqual([]);
    const upToDate = again.lastId as string;
    await again.close();

    // Nothing missed: the next event after resuming is the next change, not a repeat.
    const third = stream(await r.live(ada.auth, `/live/orders/${orderId}`, { 'Last-Event-ID': upToDate }));
    await r.post(r.staff.courier, `/orders/${orderId}/deliver`);
    const next = await third.next(() => true);
    expect(next.event).toBe('change');
    expect(JSON.parse(next.data)).toMatchObject({ status: 'DELIVERED' });
    expect(Number(next.id)).toBe(Number(upToDate) + 1);
  });

  it('resumes the kitchen board after Last-Event-ID with exactly the changes another subscriber saw meanwhile', async () => {
    const watcher = stream(await r.live(r.staff.kitchen, '/live/kitchen'));
    await watcher.next((e) => e.event === 'snapshot');
    const away = stream(await r.live(r.staff.kitchen, '/live/kitchen'));
    await away.next((e) => e.event === 'snapshot');
    const leftAt = away.lastId as string;
    await away.close();

    const orders = [await r.placedOrder(ada.auth, dish), await r.placedOrder(bob.auth, dish)];
    for (const { orderId } of orders) await r.post(r.staff.admin, `/orders/${orderId}/confirm`);
    await r.post(r.staff.kitchen, `/orders/${orders[0]?.orderId}/start-preparation`);
    const seenPreparing = (e: { event?: string; data: string }) =>
      e.event === 'change' && (JSON.parse(e.data) as Change<Doc>).upserted.some((t) => t.orderId === orders[0]?.orderId && t.status === 'PREPARING');
    await watcher.next(seenPreparing);

    const back = stream(await r.live(r.staff.kitchen, '/live/kitchen', { 'Last-Event-ID': leftAt }));
    await back.next(seenPreparing);
    const missed = watcher.events.slice(watcher.events.findIndex((e) => e.id === leftAt) + 1);
    expect(back.events.slice(0, missed.length).map((e) => [e.id, e.event, e.data])).toEqual(missed.map((e) => [e.id, e.event, e.data]));
    expect(back.events.some((e) => e.event === 'snapshot')).toBe(false);
    const board = new Map<string, Doc>();
    for (const change of back.data<Change<Doc>>('change')) {
      for (const t of change.upserted) board.set(t.orderId, t);
      for (const id of change.removed) board.delete(id);
    }
    expect(board.get(orders[0]?.orderId ?? '')).toMatchObject({ status: 'PREPARING', actions: ['markReady'] });
    expect(board.get(orders[1]?.orderId ?? '')).toMatchObject({ status: 'CONFIRMED', actions: ['startPreparation'] });
  });

  it("keeps to the GET's read rules: 404 for another customer's order or orders, 403 for a role that may not read", async () => {
    const { orderId } = await r.placedOrder(ada.auth, dish);
    const theirs = await r.live(bob.auth, `/live/orders/${orderId}`);
    expect(theirs).toMatchObject({ ok: false, status: 404, body: { error: { code: 'order_not_found' } } });
    expect(await r.live(bob.auth, `/live/orders/no-such-order`)).toMatchObject({ ok: false, status: 404 });
    expect(await r.live(bob.auth, `/live/customers/${ada.id}/orders`)).toMatchObject({ ok: false, status: 404 });
    expect(await r.live(ada.auth, '/live/kitchen')).toMatchObject({ ok: false, status: 403 });
    expect(await r.live(r.staff.kitchen, '/live/courier')).toMatchObject({ ok: false, status: 403 });
    expect(await r.live({}, '/live/menu')).toMatchObject({ ok: false, status: 401 });
    expect(await r.live(ada.auth, '/live/orders/x?consistency=not*a*token')).toMatchObject({ ok: false, status: 400 });
  });

  it("streams a customer's own orders and the courier queue as orders move", async () => {
    const carol = await r.customer('carol');
    const mine = stream(await r.live(carol.auth, `/live/customers/${carol.id}/orders`));
    expect(JSON.parse((await mine.next((e) => e.event === 'snapshot')).data)).toEqual({ items: [] });
    const courier = stream(await r.live(r.staff.courier, '/live/courier'));
    await courier.next((e) => e.event === 'snapshot');

    const { orderId } = await r.placedOrder(carol.auth, dish);
    await mine.next((e) => e.event === 'change' && (JSON.parse(e.data) as Change<Doc>).upserted.some((d) => d.orderId === orderId && d.status === 'PLACED'));
    await r.post(r.staff.admin, `/orders/${orderId}/confirm`);
    await r.post(r.staff.kitchen, `/orders/${orderId}/start-preparation`);
    await r.post(r.staff.kitchen, `/orders/${orderId}/ready`);
    await courier.next((e) => e.event === 'change' && (JSON.parse(e.data) as Change<Doc>).upserted.some((d) => d.orderId === orderId && d.actions.includes('dispatch')));
    await r.post(r.staff.courier, `/orders/${orderId}/dispatch`);
    await r.post(r.staff.courier, `/orders/${orderId}/deliver`);
    await courier.next((e) => e.event === 'change' && (JSON.parse(e.data) as Change<Doc>).removed.includes(orderId));
    await mine.next((e) => e.event === 'change' && (JSON.parse(e.data) as Change<Doc>).upserted.some((d) => d.orderId === orderId && d.status === 'DELIVERED'));
  });

  it('sends keep-alives on a quiet stream and forgets a stream once its client has gone', async () => {
    const streams = async (): Promise<number> => {
      const text = await (await fetch(`${r.query.opsUrl}/metrics`)).text();
      return Number(/^restaurant_live_streams (\S+)/m.exec(text)?.[1] ?? NaN);
    };
    await Promise.all(open.splice(0).map((s) => s.close()));
    await waitFor('no streams open', async () => ((await streams()) === 0 ? true : undefined));
    const quiet = stream(await r.live(r.staff.manager, '/live/menu'));
    await waitFor('two keep-alives', async () => (quiet.comments >= 2 ? true : undefined));
    expect(await streams()).toBe(1);
    await quiet.close();
    await waitFor('the stream forgotten', async () => ((await streams()) === 0 ? true : undefined));
  });
});
