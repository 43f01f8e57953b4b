import { ordersKeys } from '../../../../../consumers/projections/orders/orders.keys';
import { evolveOrder, ordersProjection, type OrderDocument } from '../../../../../consumers/projections/orders/orders.projection';
import { customerOrdersPage, orderView } from '../../../../../consumers/projections/orders/orders.query';
import type { MemoryStore } from '../../../../../consumers/projections/shared/memory-store';
import { parsePage, rangeFor, type Page } from '../../../../../consumers/projections/shared/pagination';
import type { OrderEvent } from '../../../../../schemas/messages';
import { address, line, money, orderHistory } from '../../../../support/order-histories';
import { DAY, fold, history, HOUR, interleave, KS, MINUTE, T0 } from '../../../../support/projection-spec';

const keys = ordersKeys(KS);
const pizza = line('m-pizza', 'Margherita', 2, money(950));
const wine = line('m-wine', 'House red', 1, money(2400));

const delivered = orderHistory({
  orderId: 'o-1',
  customerId: 'c-ada',
  lines: [pizza, wine],
  openedAt: T0,
  at: { placed: T0 + 5 * MINUTE, confirmed: T0 + 6 * MINUTE, preparing: T0 + 10 * MINUTE, ready: T0 + 30 * MINUTE, dispatched: T0 + 35 * MINUTE, delivered: T0 + 55 * MINUTE },
});
const rejected = orderHistory({
  orderId: 'o-2',
  customerId: 'c-ada',
  lines: [pizza],
  openedAt: T0 + HOUR,
  at: { placed: T0 + HOUR + MINUTE },
  rejected: { at: T0 + HOUR + 2 * MINUTE, reason: 'payment declined' },
});

const read = (store: MemoryStore, orderId: string) => orderView(store.get(keys.order(orderId)));

describe('orders projection: details and timeline', () => {
  it('builds the details and a timeline with a timestamp for every step', () => {
    const { store } = fold(ordersProjection, delivered);
    expect(read(store, 'o-1')).toEqual({
      orderId: 'o-1',
      customerId: 'c-ada',
      status: 'DELIVERED',
      lines: [pizza, wine],
      total: money(4300),
      deliveryAddress: address,
      reason: null,
      openedAt: T0,
      placedAt: T0 + 5 * MINUTE,
      updatedAt: T0 + 55 * MINUTE,
      version: 10,
      timeline: [
        { step: 'opened', at: T0, version: 1, reason: null },
        { step: 'placed', at: T0 + 5 * MINUTE, version: 5, reason: null },
        { step: 'confirmed', at: T0 + 6 * MINUTE, version: 6, reason: null },
        { step: 'preparation_started', at: T0 + 10 * MINUTE, version: 7, reason: null },
        { step: 'ready', at: T0 + 30 * MINUTE, version: 8, reason: null },
        { step: 'dispatched', at: T0 + 35 * MINUTE, version: 9, reason: null },
        { step: 'delivered', at: T0 + 55 * MINUTE, version: 10, reason: null },
      ],
    });
  });

  it('records a rejection and a cancellation with their reasons', () => {
    const cancelled = orderHistory({
      orderId: 'o-3',
      customerId: 'c-ada',
      lines: [wine],
      openedAt: T0,
      at: { placed: T0 + MINUTE, confirmed: T0 + 2 * MINUTE },
      cancelled: { at: T0 + 3 * MINUTE, reason: 'changed my mind' },
    });
    const { store } = fold(ordersProjection, [...rejected, ...cancelled]);
    expect(read(store, 'o-2')).toMatchObject({ status: 'REJECTED', reason: 'payment declined' });
    expect(read(store, 'o-2')?.timeline.at(-1)).toEqual({ step: 'rejected', at: T0 + HOUR + 2 * MINUTE, version: 5, reason: 'payment declined' });
    expect(read(store, 'o-3')?.timeline.map((t) => [t.step, t.reason])).toEqual([
      ['opened', null],
      ['placed', null],
      ['confirmed', null],
      ['cancelled', 'changed my mind'],
    ]);
  });

  it('shows an open basket with its running total as lines come and go', () => {
    const basket = history<OrderEvent>('o-b', [
      [{ type: 'OrderOpened', data: { customerId: 'c-ada' } }, T0],
      [{ type: 'ItemAddedToOrder', data: pizza }, T0 + 1],
      [{ type: 'ItemAddedToOrder', data: wine }, T0 + 2],
      [{ type: 'ItemRemovedFromOrder', data: { menuItemId: 'm-pizza' } }, T0 + 3],
    ]);
    const { store } = fold(ordersProjection, basket);
    expect(read(store, 'o-b')).toMatchObject({ status: 'OPEN', lines: [wine], total: money(2400), placedAt: null, deliveryAddress: null });
    const emptied = history<OrderEvent>('o-b', [[{ type: 'ItemRemovedFromOrder', data: { menuItemId: 'm-wine' } }, T0 + 4]], 5);
    fold(ordersProjection, emptied, store);
    expect(read(store, 'o-b')).toMatchObject({ lines: [], total: null });
  });

  it('stores exactly what the pure evolveOrder folds to', () => {
    const { store } = fold(ordersProjection, interleave(delivered, rejected));
    for (const h of [delivered, rejected]) {
      const expected = h.reduce<OrderDocument | null>((doc, e) => evolveOrder(doc, e.event, e.metadata), null);
      expect(store.getJson(keys.order(h[0]?.metadata.aggregateId ?? ''))).toEqual(expected);
    }
  });

  it('gives the same read model when everything is delivered twice', () => {
    const { store } = fold(ordersProjection, [...delivered, ...rejected]);
    const once = store.dump();
    expect(fold(ordersProjection, [...delivered, ...rejected], store).report).toEqual({ applied: 0, skipped: 15, ignored: 0 });
    expect(store.dump()).toEqual(once);
  });

  it('ignores an older event redelivered after newer ones (no step repeated, status kept)', () => {
    const { store } = fold(ordersProjection, delivered);
    const confirmedAgain = delivered[5];
    if (confirmedAgain === undefined) throw new Error('fixture');
    expect(fold(ordersProjection, [confirmedAgain, delivered[0] ?? confirmedAgain], store).report.skipped).toBe(2);
    expect(read(store, 'o-1')?.status).toBe('DELIVERED');
    expect(read(store, 'o-1')?.timeline).toHaveLength(7);
  });
});

describe("orders projection: a customer's orders, newest first", () => {
  // Five orders of Ada opened on different days (not in id order), one of Bob.
  const opened = (orderId: string, customerId: string, openedAt: number) =>
    orderHistory({ orderId, customerId, lines: [pizza], openedAt, at: { placed: openedAt + MINUTE } });
  const orders = interleave(
    opened('o-a', 'c-ada', T0 + 2 * DAY),
    opened('o-b', 'c-ada', T0),
    opened('o-c', 'c-ada', T0 + 4 * DAY),
    opened('o-d', 'c-ada', T0 + 1 * DAY),
    opened('o-e', 'c-ada', T0 + 3 * DAY),
    opened('o-bob', 'c-bob', T0 + 5 * DAY),
  );
  const { store } = fold(ordersProjection, orders);

  const pageOf = (customerId: string, page: Page) => {
    const { start, stop } = rangeFor(page);
    const ids = store.zrevrange(keys.byCustomer(customerId), start, stop);
    return customerOrdersPage(ids.map((id) => store.get(keys.order(id))), page);
  };

  it('scores each order by the time it was opened', () => {
    expect(store.zrangeWithScores(keys.byCustomer('c-ada')).map((e) => [e.member, e.score])).toEqual([
      ['o-b', T0],
      ['o-d', T0 + DAY],
      ['o-a', T0 + 2 * DAY],
      ['o-e', T0 + 3 * DAY],
      ['o-c', T0 + 4 * DAY],
    ]);
  });

  it('pages through them newest first and says where the next page starts', () => {
    const request = parsePage({ limit: '2' });
    if (!request.ok) throw new Error(request.error);
    const first = pageOf('c-ada', request.page);
    expect(first.items.map((o) => o.orderId)).toEqual(['o-c', 'o-e']);
    expect(first.nextOffset).toBe(2);
    const second = pageOf('c-ada', { offset: 2, limit: 2 });
    expect(second.items.map((o) => o.orderId)).toEqual(['o-a', 'o-d']);
    const last = pageOf('c-ada', { offset: 4, limit: 2 });
    expect(last).toEqual({
      items: [{ orderId: 'o-b', status: 'PLACED', total: money(1900), itemCount: 2, openedAt: T0, placedAt: T0 + MINUTE }],
      offset: 4,
      limit: 2,
      nextOffset: null,
    });
    expect(pageOf('c-ada', { offset: 10, limit: 2 })).toEqual({ items: [], offset: 10, limit: 2, nextOffset: null });
    expect(pageOf('c-bob', { offset: 0, limit: 20 }).items.map((o) => o.orderId)).toEqual(['o-bob']);
  });
});

describe('orders projection: document shape', () => {
  it('gives every document of an order the same fields in the same order, whatever the step', () => {
    const cancelled = orderHistory({ orderId: 'o-9', customerId: 'c-ada', lines: [pizza, wine], openedAt: T0, at: { placed: T0 + MINUTE, confirmed: T0 + 2 * MINUTE }, cancelled: { at: T0 + 3 * MINUTE, reason: 'changed mind' } });
    const shapes = new Set<string>();
    let doc: OrderDocument | null = null;
    for (const { event, metadata } of [...delivered, ...cancelled]) {
      doc = evolveOrder(event.type === 'OrderOpened' ? null : doc, event, metadata);
      shapes.add(Object.keys(doc ?? {}).join(','));
    }
    expect([...shapes]).toEqual(['orderId,customerId,status,lines,total,deliveryAddress,reason,openedAt,placedAt,updatedAt,version,timeline']);
    expect(doc).toMatchObject({ orderId: 'o-9', status: 'CANCELLED', reason: 'changed mind', placedAt: T0 + MINUTE });
  });
});
