import { kitchenKeys } from '../../../../../consumers/projections/kitchen/kitchen.keys';
import { kitchenProjection } from '../../../../../consumers/projections/kitchen/kitchen.projection';
import { courierQueueView } from '../../../../../consumers/projections/kitchen/courier.query';
import { kitchenQueueView, waitedMs } from '../../../../../consumers/projections/kitchen/kitchen.query';
import type { MemoryStore } from '../../../../../consumers/projections/shared/memory-store';
import { address, line, money, orderHistory } from '../../../../support/order-histories';
import { fold, interleave, KS, MINUTE, T0 } from '../../../../support/projection-spec';

const keys = kitchenKeys(KS);
const pizza = line('m-pizza', 'Margherita', 2, money(950));
const soup = line('m-soup', 'Tomato soup', 1, money(600));

// Placed in the order A, B, C, D, E, F; confirmed in the order C, A, B, E, F (D is never confirmed).
const a = orderHistory({ orderId: 'o-a', customerId: 'c-1', lines: [pizza], openedAt: T0, at: { placed: T0 + 1 * MINUTE, confirmed: T0 + 12 * MINUTE } });
const b = orderHistory({ orderId: 'o-b', customerId: 'c-2', lines: [soup], openedAt: T0, at: { placed: T0 + 2 * MINUTE, confirmed: T0 + 13 * MINUTE, preparing: T0 + 20 * MINUTE } });
const c = orderHistory({ orderId: 'o-c', customerId: 'c-3', lines: [pizza, soup], openedAt: T0, at: { placed: T0 + 3 * MINUTE, confirmed: T0 + 11 * MINUTE } });
const d = orderHistory({ orderId: 'o-d', customerId: 'c-4', lines: [soup], openedAt: T0, at: { placed: T0 + 4 * MINUTE } });
const e = orderHistory({ orderId: 'o-e', customerId: 'c-5', lines: [soup], openedAt: T0, at: { placed: T0 + 5 * MINUTE, confirmed: T0 + 14 * MINUTE, preparing: T0 + 15 * MINUTE, ready: T0 + 25 * MINUTE } });
const f = orderHistory({ orderId: 'o-f', customerId: 'c-6', lines: [pizza], openedAt: T0, at: { placed: T0 + 6 * MINUTE, confirmed: T0 + 15 * MINUTE }, cancelled: { at: T0 + 16 * MINUTE, reason: 'no courier' } });
const g = orderHistory({ orderId: 'o-g', customerId: 'c-7', lines: [pizza], openedAt: T0, at: { placed: T0 + 7 * MINUTE }, rejected: { at: T0 + 8 * MINUTE, reason: 'payment declined' } });
// Past the kitchen: H dispatched, I delivered, J cancelled while ready.
const h = orderHistory({ orderId: 'o-h', customerId: 'c-8', lines: [soup], openedAt: T0, at: { placed: T0 + 8 * MINUTE, confirmed: T0 + 9 * MINUTE, preparing: T0 + 10 * MINUTE, ready: T0 + 21 * MINUTE, dispatched: T0 + 24 * MINUTE } });
const i = orderHistory({ orderId: 'o-i', customerId: 'c-9', lines: [pizza], openedAt: T0, at: { placed: T0 + 8 * MINUTE, confirmed: T0 + 9 * MINUTE, preparing: T0 + 10 * MINUTE, ready: T0 + 11 * MINUTE, dispatched: T0 + 12 * MINUTE, delivered: T0 + 22 * MINUTE } });
const j = orderHistory({ orderId: 'o-j', customerId: 'c-10', lines: [pizza], openedAt: T0, at: { placed: T0 + 8 * MINUTE, confirmed: T0 + 9 * MINUTE, preparing: T0 + 10 * MINUTE, ready: T0 + 11 * MINUTE }, cancelled: { at: T0 + 12 * MINUTE, reason: 'no courier' } });
const all = interleave(a, b, c, d, e, f, g, h, i, j);

const queue = (store: MemoryStore, now: number) => {
  const entries = store.zrangeWithScores(keys.queue);
  return kitchenQueueView(entries, entries.map((x) => store.hgetall(keys.ticket(x.member))), now);
};

describe('kitchen queue projection', () => {
  it('holds confirmed orders not yet ready, oldest confirmation first, with what to cook', () => {
    const { store, report } = fold(kitchenProjection, all);
    const now = T0 + 30 * MINUTE;
    expect(queue(store, now)).toEqual([
      { orderId: 'o-c', status: 'CONFIRMED', confirmedAt: T0 + 11 * MINUTE, preparationStartedAt: null, waitedMs: 19 * MINUTE, lines: [pizza, soup] },
      { orderId: 'o-a', status: 'CONFIRMED', confirmedAt: T0 + 12 * MINUTE, preparationStartedAt: null, waitedMs: 18 * MINUTE, lines: [pizza] },
      { orderId: 'o-b', status: 'PREPARING', confirmedAt: T0 + 13 * MINUTE, preparationStartedAt: T0 + 20 * MINUTE, waitedMs: 17 * MINUTE, lines: [soup] },
    ]);
    expect(report.ignored).toBe(10 * 2 + 11); // opened + address of 10 orders, 11 lines: never reach the guard
  });

  it('keeps tickets only for orders still on the board or with couriers; keeps the placed-but-unconfirmed one out of the queue', () => {
    const { store } = fold(kitchenProjection, all);
    expect(store.keys(`rm:{${KS}}:kitchen:ticket:`)).toEqual(['o-a', 'o-b', 'o-c', 'o-d', 'o-e', 'o-h'].map((id) => keys.ticket(id)));
    expect(store.zrevrange(keys.queue)).not.toContain('o-d');
  });

  it('computes the wait at query time from the query clock, never negative', () => {
    expect(waitedMs(T0, T0 + 90_000)).toBe(90_000);
    expect(waitedMs(T0, T0 - 5)).toBe(0);
    const { store } = fold(kitchenProjection, all);
    expect(queue(store, T0 + 11 * MINUTE).map((t) => t.waitedMs)).toEqual([0, 0, 0]);
  });

  it('gives the same queue when every event is delivered twice', () => {
    const { store } = fold(kitchenProjection, all);
    const once = store.dump();
    fold(kitchenProjection, all, store);
    expect(store.dump()).toEqual(once);
  });

  it('does not put an order back in the queue when its confirmation is redelivered after it was ready', () => {
    const { store } = fold(kitchenProjection, e);
    const confirmed = e.find((x) => x.event.type === 'OrderConfirmed');
    if (confirmed === undefined) throw new Error('fixture');
    expect(fold(kitchenProjection, [confirmed], store).report.skipped).toBe(1);
    expect(store.zrevrange(keys.queue)).toEqual([]);
    expect(store.zrevrange(keys.courier)).toEqual(['o-e']);
  });

  it('hands ready orders to the courier queue, oldest readiness first, until delivered or cancelled', () => {
    const { store } = fold(kitchenProjection, all);
    const entries = store.zrangeWithScores(keys.courier);
    const now = T0 + 30 * MINUTE;
    expect(courierQueueView(entries, entries.map((x) => store.hgetall(keys.ticket(x.member))), now)).toEqual([
      { orderId: 'o-h', status: 'DISPATCHED', readyAt: T0 + 21 * MINUTE, dispatchedAt: T0 + 24 * MINUTE, waitedMs: 9 * MINUTE, deliveryAddress: address, lines: [soup] },
      { orderId: 'o-e', status: 'READY', readyAt: T0 + 25 * MINUTE, dispatchedAt: null, waitedMs: 5 * MINUTE, deliveryAddress: address, lines: [soup] },
    ]);
  });

  it("opens each courier entry's sealed address with its own customer's key, and only when the ticket knows the customer", () => {
    const { store } = fold(kitchenProjection, all);
    const entries = store.zrangeWithScores(keys.courier);
    const tickets = entries.map((x) => store.hgetall(keys.ticket(x.member)));
    const opened: string[] = [];
    const open = (customerId: string, sealed: typeof address) => {
      opened.push(customerId);
      return { ...sealed, line1: `opened for ${customerId}` };
    };
    const view = courierQueueView(entries, tickets, T0 + 30 * MINUTE, open);
    expect(view.map((v) => [v.orderId, v.deliveryAddress?.line1])).toEqual([
      ['o-h', 'opened for c-8'],
      ['o-e', 'opened for c-5'],
    ]);
    // A ticket projected before tickets carried the customer's id: its address stays as stored, never opened with a guess.
    const older = tickets.map(({ customerId: _id, ...rest }) => rest);
    opened.length = 0;
    expect(courierQueueView(entries, older, T0 + 30 * MINUTE, open).map((v) => v.deliveryAddress)).toEqual([address, address]);
    expect(opened).toEqual([]);
  });

  it('leaves out an order that moved on between reading the sorted set and its ticket, never showing a status it left', () => {
    const entries = [
      { member: 'o-gone', score: T0 },
      { member: 'o-ready', score: T0 + 1 },
      { member: 'o-cooking', score: T0 + 2 },
    ];
    const tickets: Record<string, string>[] = [{}, { status: 'READY', lines: '[]' }, { status: 'PREPARING', lines: '[]', preparationStartedAt: String(T0 + 5) }];
    expect(kitchenQueueView(entries, tickets, T0 + 10).map((t) => [t.orderId, t.status])).toEqual([['o-cooking', 'PREPARING']]);
    expect(courierQueueView(entries, tickets, T0 + 10).map((t) => [t.orderId, t.status])).toEqual([['o-ready', 'READY']]);
  });

  it('gives the same board and courier queue whatever the interleaving of orders (a replay reads partitions in any order)', () => {
    const one = fold(kitchenProjection, interleave(a, b, c, d, e, f, g, h, i, j)).store.dump();
    const other = fold(kitchenProjection, interleave(j, i, h, g, f, e, d, c, b, a)).store.dump();
    expect(other).toEqual(one);
  });
});
