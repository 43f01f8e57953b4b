import { salesKeys } from '../../../../../consumers/projections/sales/sales.keys';
import { salesProjection } from '../../../../../consumers/projections/sales/sales.projection';
import { parseSalesRange, salesReport } from '../../../../../consumers/projections/sales/sales.query';
import type { MemoryStore } from '../../../../../consumers/projections/shared/memory-store';
import { line, money, orderHistory } from '../../../../support/order-histories';
import { fold, HOUR, interleave, KS, MINUTE } from '../../../../support/projection-spec';

const keys = salesKeys(KS);
const DAY1 = Date.UTC(2024, 2, 10); // 2024-03-10T00:00Z
const DAY2 = Date.UTC(2024, 2, 11);
const DAY3 = Date.UTC(2024, 2, 12);

const pizza = (q: number) => line('m-pizza', 'Margherita', q, money(950));
const wine = (q: number) => line('m-wine', 'House red', q, money(2400));
const fish = (q: number) => line('m-fish', 'Fish & chips', q, money(1500, 'GBP'));

// Day 1: A (EUR 4300), B (GBP 1500) and F (EUR 2850) confirmed; C rejected; D cancelled before confirmation.
// Day 2: E placed late on day 1, confirmed just after midnight: counts on day 2 (EUR 950).
// Day 3: G confirmed and delivered (EUR 2400); F, confirmed on day 1, cancelled: subtracted on day 3.
const orders = {
  a: orderHistory({ orderId: 'o-a', customerId: 'c-1', lines: [pizza(2), wine(1)], openedAt: DAY1 + 9 * HOUR, at: { placed: DAY1 + 10 * HOUR, confirmed: DAY1 + 10 * HOUR + MINUTE } }),
  b: orderHistory({ orderId: 'o-b', customerId: 'c-2', lines: [fish(1)], openedAt: DAY1 + 11 * HOUR, at: { placed: DAY1 + 12 * HOUR, confirmed: DAY1 + 12 * HOUR + MINUTE, preparing: DAY1 + 13 * HOUR } }),
  c: orderHistory({ orderId: 'o-c', customerId: 'c-3', lines: [wine(5)], openedAt: DAY1 + 12 * HOUR, at: { placed: DAY1 + 13 * HOUR }, rejected: { at: DAY1 + 13 * HOUR + MINUTE, reason: 'payment declined' } }),
  d: orderHistory({ orderId: 'o-d', customerId: 'c-4', lines: [wine(1)], openedAt: DAY1 + 14 * HOUR, at: { placed: DAY1 + 15 * HOUR }, cancelled: { at: DAY1 + 15 * HOUR + MINUTE, reason: 'mistake' } }),
  e: orderHistory({ orderId: 'o-e', customerId: 'c-5', lines: [pizza(1)], openedAt: DAY1 + 23 * HOUR, at: { placed: DAY2 - 10 * MINUTE, confirmed: DAY2 + 10 * MINUTE } }),
  f: orderHistory({ orderId: 'o-f', customerId: 'c-6', lines: [pizza(3)], openedAt: DAY1 + 16 * HOUR, at: { placed: DAY1 + 17 * HOUR, confirmed: DAY1 + 17 * HOUR + MINUTE, preparing: DAY1 + 18 * HOUR, ready: DAY1 + 19 * HOUR }, cancelled: { at: DAY3 + 9 * HOUR, reason: 'never collected' } }),
  g: orderHistory({ orderId: 'o-g', customerId: 'c-7', lines: [wine(1)], openedAt: DAY3 + 8 * HOUR, at: { placed: DAY3 + 9 * HOUR, confirmed: DAY3 + 9 * HOUR + MINUTE, preparing: DAY3 + 10 * HOUR, ready: DAY3 + 11 * HOUR, dispatched: DAY3 + 12 * HOUR, delivered: DAY3 + 13 * HOUR } }),
};
const all = interleave(orders.a, orders.b, orders.c, orders.d, orders.e, orders.f, orders.g);

function report(store: MemoryStore, from: string, to: string) {
  const request = parseSalesRange(from, to);
  if (!request.ok) throw new Error(request.error);
  const buckets = request.range.days.map((day) => ({ day, totals: store.hgetall(keys.day(day)), items: store.hgetall(keys.items(day)) }));
  return salesReport(request.range, buckets);
}

describe('sales projection', () => {
  it('counts an order on the UTC day it was confirmed, per currency', () => {
    const { store } = fold(salesProjection, all);
    expect(report(store, '2024-03-10', '2024-03-10')).toMatchObject({
      orders: 3,
      confirmed: 3,
      cancelled: 0,
      revenue: [money(4300 + 2850), money(1500, 'GBP')],
    });
    expect(report(store, '2024-03-11', '2024-03-11')).toMatchObject({ orders: 1, revenue: [money(950)] });
  });

  it('subtracts an order cancelled after confirmation on the day of the cancellation', () => {
    const { store } = fold(salesProjection, all);
    expect(report(store, '2024-03-12', '2024-03-12')).toMatchObject({
      orders: 0,
      confirmed: 1,
      cancelled: 1,
      revenue: [money(2400 - 2850)],
      cancelledRevenue: [money(2850)],
    });
    // Day 1 as reported on day 1 is never restated.
    expect(store.hgetall(keys.day('2024-03-10'))).toEqual({ orders: '3', confirmed: '3', 'revenue:EUR': '7150', 'revenue:GBP': '1500' });
  });

  it('answers a range by summing its days: totals, a daily series and per-item figures', () => {
    const { store } = fold(salesProjection, all);
    expect(report(store, '2024-03-09', '2024-03-13')).toEqual({
      from: '2024-03-09',
      to: '2024-03-13',
      orders: 4,
      confirmed: 5,
      cancelled: 1,
      revenue: [money(7150 + 950 + 2400 - 2850), money(1500, 'GBP')],
      cancelledRevenue: [money(2850)],
      daily: [
        { day: '2024-03-09', orders: 0, revenue: [] },
        { day: '2024-03-10', orders: 3, revenue: [money(7150), money(1500, 'GBP')] },
        { day: '2024-03-11', orders: 1, revenue: [money(950)] },
        { day: '2024-03-12', orders: 0, revenue: [money(-450)] },
        { day: '2024-03-13', orders: 0, revenue: [] },
      ],
      items: [
        { menuItemId: 'm-pizza', name: 'Margherita', quantity: 2 + 3 + 1 - 3, revenue: [money(3 * 950)] },
        { menuItemId: 'm-wine', name: 'House red', quantity: 2, revenue: [money(4800)] },
        { menuItemId: 'm-fish', name: 'Fish & chips', quantity: 1, revenue: [money(1500, 'GBP')] },
      ],
    });
  });

  it('keeps per-order state only while the order can still change the figures', () => {
    const { store } = fold(salesProjection, all);
    expect(store.keys(`rm:{${KS}}:sales:order:`)).toEqual([keys.order('o-a'), keys.order('o-b'), keys.order('o-e')]);
  });

  it('counts nothing twice when every event is delivered twice', () => {
    const { store } = fold(salesProjection, all);
    const once = store.dump();
    const again = fold(salesProjection, all, store).report;
    expect(again.applied).toBe(0);
    expect(store.dump()).toEqual(once);
    expect(report(store, '2024-03-10', '2024-03-12').orders).toBe(4);
  });

  it('ignores a confirmation or cancellation redelivered late (older version)', () => {
    const { store } = fold(salesProjection, all);
    const before = store.dump();
    const lateConfirm = orders.a.find((x) => x.event.type === 'OrderConfirmed');
    const lateCancel = orders.f.find((x) => x.event.type === 'OrderCancelled');
    const laterConfirmOfF = orders.f.find((x) => x.event.type === 'OrderConfirmed');
    if (!lateConfirm || !lateCancel || !laterConfirmOfF) throw new Error('fixture');
    expect(fold(salesProjection, [laterConfirmOfF, lateConfirm, lateCancel], store).report).toEqual({ applied: 0, skipped: 3, ignored: 0 });
    expect(store.dump()).toEqual(before);
  });

  it('is the same whatever the interleaving of different orders', () => {
    const sequential = fold(salesProjection, Object.values(orders).flat()).store.dump();
    const reversed = fold(salesProjection, Object.values(orders).reverse().flat()).store.dump();
    expect(reversed).toEqual(sequential);
    expect(fold(salesProjection, all).store.dump()).toEqual(sequential);
  });
});

describe('sales date range', () => {
  it('lists every UTC day of an inclusive range, across month and leap-day ends', () => {
    expect(parseSalesRange('2024-02-28', '2024-03-01')).toEqual({
      ok: true,
      range: { from: '2024-02-28', to: '2024-03-01', days: ['2024-02-28', '2024-02-29', '2024-03-01'] },
    });
    const year = parseSalesRange('2024-01-01', '2024-12-31');
    expect(year.ok && year.range.days.length).toBe(366);
  });

  it.each([
    [undefined, '2024-03-01', 'from is required (a UTC date, YYYY-MM-DD)'],
    ['2024-03-01', '', 'to is required (a UTC date, YYYY-MM-DD)'],
    ['2024-3-1', '2024-03-02', 'from "2024-3-1" is not a date in the form YYYY-MM-DD'],
    ['2024-03-01', '2023-02-29', 'to "2023-02-29" is not a date in the form YYYY-MM-DD'],
    ['2024-03-02', '2024-03-01', 'from (2024-03-02) must not be after to (2024-03-01)'],
    ['2023-01-01', '2024-01-02', 'the range 2023-01-01..2024-01-02 spans 367 days; at most 366 days can be asked at once'],
  ])('rejects from=%j to=%j', (from, to, error) => {
    expect(parseSalesRange(from, to)).toEqual({ ok: false, error });
  });
});
