import { applyChange, courierReducer, groupMenu, kitchenReducer, menuReducer, orderReducer } from '../../../../web/src/live-state';
import type { KitchenTicket, MenuItem, OrderDocument } from '../../../../web/src/types';

const ticket = (orderId: string, confirmedAt: number, status: KitchenTicket['status'] = 'CONFIRMED'): KitchenTicket => ({
  orderId,
  confirmedAt,
  status,
  preparationStartedAt: null,
  waitedMs: 1000,
  lines: [],
  actions: status === 'CONFIRMED' ? ['startPreparation'] : ['markReady'],
});
const item = (menuItemId: string, name: string, category: MenuItem['category'], available = true): MenuItem => ({
  menuItemId,
  name,
  description: '',
  category,
  price: { amountMinor: 500, currency: 'EUR' },
  availability: available ? 'AVAILABLE' : 'SOLD_OUT',
  available,
});

describe('following a live stream', () => {
  it('applyChange upserts, removes and keeps the screen order', () => {
    const list = [{ id: 'b', n: 2 }, { id: 'a', n: 1 }];
    const next = applyChange(list, { upserted: [{ id: 'c', n: 0 }, { id: 'b', n: 5 }], removed: ['a'] }, (e) => e.id, (x, y) => x.n - y.n);
    expect(next).toEqual([{ id: 'c', n: 0 }, { id: 'b', n: 5 }]);
  });

  it('the kitchen board: a snapshot replaces, changes keep it oldest confirmation first, every ticket stamped when received', () => {
    let now = 100;
    const reduce = kitchenReducer(() => now);
    let state = reduce(undefined, 'change', { upserted: [ticket('x', 1)], removed: [] });
    expect(state).toBeUndefined(); // a change before any snapshot has nothing to apply to
    state = reduce(undefined, 'snapshot', { queue: [ticket('b', 20), ticket('a', 10)] });
    expect(state?.queue.map((t) => [t.orderId, t.seenAt])).toEqual([
      ['b', 100],
      ['a', 100],
    ]);
    now = 200;
    state = reduce(state, 'change', { upserted: [ticket('c', 5), ticket('b', 20, 'PREPARING')], removed: ['a'] });
    expect(state?.queue.map((t) => [t.orderId, t.status, t.seenAt])).toEqual([
      ['c', 'CONFIRMED', 200],
      ['b', 'PREPARING', 200],
    ]);
  });

  it('the courier list is ordered by readyAt', () => {
    const entry = (orderId: string, readyAt: number) => ({ orderId, status: 'READY' as const, readyAt, dispatchedAt: null, waitedMs: 0, lines: [], deliveryAddress: null });
    const state = courierReducer({ queue: [entry('a', 5)] }, 'change', { upserted: [entry('b', 1)], removed: [] });
    expect(state?.queue.map((o) => o.orderId)).toEqual(['b', 'a']);
  });

  it('the menu regroups by category after a change: sold out marked in place, removed items gone, new ones in their category', () => {
    const menu = groupMenu([item('1', 'Soup', 'STARTER'), item('2', 'Pizza', 'MAIN'), item('3', 'Pasta', 'MAIN')]);
    expect(menu.categories.map((c) => [c.category, c.items.map((i) => i.name)])).toEqual([
      ['STARTER', ['Soup']],
      ['MAIN', ['Pasta', 'Pizza']],
    ]);
    const next = menuReducer(menu, 'change', { upserted: [item('2', 'Pizza', 'MAIN', false), item('4', 'Cake', 'DESSERT')], removed: ['1'] });
    expect(next?.categories.map((c) => [c.category, c.items.map((i) => `${i.name}${i.available ? '' : ' (sold out)'}`)])).toEqual([
      ['MAIN', ['Pasta', 'Pizza (sold out)']],
      ['DESSERT', ['Cake']],
    ]);
  });

  it("an order's stream never goes back to an older version", () => {
    const doc = (version: number): OrderDocument =>
      ({ orderId: 'o', customerId: 'c', status: 'OPEN', lines: [], total: null, deliveryAddress: null, reason: null, openedAt: 0, placedAt: null, updatedAt: 0, version, timeline: [] }) as OrderDocument;
    expect(orderReducer(doc(3), 'change', doc(2))?.version).toBe(3);
    expect(orderReducer(doc(3), 'change', doc(4))?.version).toBe(4);
    expect(orderReducer(doc(3), 'snapshot', doc(2))?.version).toBe(2);
    expect(orderReducer(doc(3), 'other', doc(9))?.version).toBe(3);
  });
});
