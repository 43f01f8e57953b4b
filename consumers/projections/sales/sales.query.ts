// Query-side helpers for sales over a date range:
//   parseSalesRange(from, to) -> the days to read (or a 400 message)
//   HGETALL rm:{ks}:sales:day:<d> and rm:{ks}:sales:items:<d> for every day (one pipeline)
//   salesReport(range, buckets) -> the response
import type { Money } from '../../../schemas/generated/types';
import { formatDay, parseDay } from '../shared/utc-day';

export const MAX_SALES_RANGE_DAYS = 366;

export interface SalesRange {
  readonly from: string;
  readonly to: string;
  /** Every UTC day from `from` to `to`, inclusive. */
  readonly days: readonly string[];
}

export type SalesRangeRequest = { readonly ok: true; readonly range: SalesRange } | { readonly ok: false; readonly error: string };

/** Validates `?from=YYYY-MM-DD&to=YYYY-MM-DD` (UTC days, both inclusive). */
export function parseSalesRange(from: string | undefined, to: string | undefined, maxDays = MAX_SALES_RANGE_DAYS): SalesRangeRequest {
  if (from === undefined || from === '') return { ok: false, error: 'from is required (a UTC date, YYYY-MM-DD)' };
  if (to === undefined || to === '') return { ok: false, error: 'to is required (a UTC date, YYYY-MM-DD)' };
  const start = parseDay(from);
  if (start === null) return { ok: false, error: `from "${from}" is not a date in the form YYYY-MM-DD` };
  const end = parseDay(to);
  if (end === null) return { ok: false, error: `to "${to}" is not a date in the form YYYY-MM-DD` };
  if (start > end) return { ok: false, error: `from (${from}) must not be after to (${to})` };
  const count = end - start + 1;
  if (count > maxDays) return { ok: false, error: `the range ${from}..${to} spans ${count} days; at most ${maxDays} days can be asked at once` };
  const days = Array.from({ length: count }, (_, i) => formatDay(start + i));
  return { ok: true, range: { from, to, days } };
}

export interface SalesBucket {
  readonly day: string;
  /** HGETALL of the day hash ({} when nothing happened that day). */
  readonly totals: Readonly<Record<string, string>>;
  /** HGETALL of the day's items hash. */
  readonly items: Readonly<Record<string, string>>;
}

export interface ItemSales {
  readonly menuItemId: string;
  readonly name: string;
  readonly quantity: number;
  readonly revenue: readonly Money[];
}

export interface SalesReport {
  readonly from: string;
  readonly to: string;
  /** Net orders: confirmed minus cancelled after confirmation. */
  readonly orders: number;
  readonly confirmed: number;
  readonly cancelled: number;
  /** Net revenue per currency, sorted by currency. */
  readonly revenue: readonly Money[];
  readonly cancelledRevenue: readonly Money[];
  readonly daily: readonly { readonly day: string; readonly orders: number; readonly revenue: readonly Money[] }[];
  /** Per menu item over the range, by quantity (desc), then id. */
  readonly items: readonly ItemSales[];
}

type Amounts = Map<string, number>;

const add = (m: Amounts, currency: string, amount: number): void => {
  m.set(currency, (m.get(currency) ?? 0) + amount);
};
const toMoney = (m: Amounts): Money[] =>
  [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([currency, amountMinor]) => ({ amountMinor, currency }));
const int = (value: string | undefined): number => (value === undefined ? 0 : Number(value));

/** Splits `prefix:<rest>` fields of a hash; returns [rest, value] pairs. */
function fieldsWith(hash: Readonly<Record<string, string>>, prefix: string): [string, string][] {
  return Object.entries(hash)
    .filter(([field]) => field.startsWith(prefix))
    .map(([field, value]) => [field.slice(prefix.length), value]);
}

export function salesReport(range: SalesRange, buckets: readonly SalesBucket[]): SalesReport {
  const revenue: Amounts = new Map();
  const cancelledRevenue: Amounts = new Map();
  const items = new Map<string, { name: string; quantity: number; revenue: Amounts }>();
  const item = (id: string) => {
    const existing = items.get(id);
    if (existing !== undefined) return existing;
    const created = { name: id, quantity: 0, revenue: new Map<string, number>() };
    items.set(id, created);
    return created;
  };
  let orders = 0;
  let confirmed = 0;
  let cancelled = 0;
  const byDay = new Map(buckets.map((b) => [b.day, b]));
  const daily = range.days.map((day) => {
    const bucket = byDay.get(day) ?? { day, totals: {}, items: {} };
    const dayRevenue: Amounts = new Map();
    orders += int(bucket.totals.orders);
    confirmed += int(bucket.totals.confirmed);
    cancelled += int(bucket.totals.cancelled);
    for (const [currency, value] of fieldsWith(bucket.totals, 'revenue:')) {
      add(dayRevenue, currency, Number(value));
      add(revenue, currency, Number(value));
    }
    for (const [currency, value] of fieldsWith(bucket.totals, 'cancelledRevenue:')) add(cancelledRevenue, currency, Number(value));
    for (const [id, value] of fieldsWith(bucket.items, 'qty:')) item(id).quantity += Number(value);
    for (const [rest, value] of fieldsWith(bucket.items, 'revenue:')) {
      // `<CUR>:<menuItemId>`: the currency is three letters, the id is the rest.
      add(item(rest.slice(4)).revenue, rest.slice(0, 3), Number(value));
    }
    // Days are walked oldest first, so the latest name seen wins.
    for (const [id, name] of fieldsWith(bucket.items, 'name:')) item(id).name = name;
    return { day, orders: int(bucket.totals.orders), revenue: toMoney(dayRevenue) };
  });
  return {
    from: range.from,
    to: range.to,
    orders,
    confirmed,
    cancelled,
    revenue: toMoney(revenue),
    cancelledRevenue: toMoney(cancelledRevenue),
    daily,
    items: [...items.entries()]
      .map(([menuItemId, s]) => ({ menuItemId, name: s.name, quantity: s.quantity, revenue: toMoney(s.revenue) }))
      .sort((a, b) => b.quantity - a.quantity || (a.menuItemId < b.menuItemId ? -1 : a.menuItemId > b.menuItemId ? 1 : 0)),
  };
}
