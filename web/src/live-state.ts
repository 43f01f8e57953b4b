// How a screen's state follows its live stream (docs/live-updates.md), pure:
// a `snapshot` replaces the state; a `change` upserts and removes entries of a
// collection (kept in the screen's own order), or, on an order's stream,
// replaces the document unless it is older than the one held.
import type { Category, KitchenTicket, Menu, MenuItem, OrderDocument, CourierOrder } from './types';
import { CATEGORIES } from './types';

export interface Change<E> {
  readonly upserted: readonly E[];
  readonly removed: readonly string[];
}

/** Applies a change to a list: upserted entries replace theirs or join, removed ones go; then sorted. */
export function applyChange<E>(list: readonly E[], change: Change<E>, keyOf: (e: E) => string, compare: (a: E, b: E) => number): E[] {
  const byKey = new Map(list.map((e) => [keyOf(e), e] as const));
  for (const key of change.removed) byKey.delete(key);
  for (const entry of change.upserted) byKey.set(keyOf(entry), entry);
  return [...byKey.values()].sort(compare);
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A reducer of one stream's events into the screen's state. */
export type LiveReducer<T> = (state: T | undefined, type: string, data: unknown) => T | undefined;

/** For streams whose body is `{ <field>: entries[] }` (kitchen, courier, customer orders). */
export function collectionReducer<E, F extends string>(field: F, keyOf: (e: E) => string, compare: (a: E, b: E) => number, stamp: (e: E) => E = (e) => e): LiveReducer<Record<F, readonly E[]>> {
  const wrap = (list: readonly E[]): Record<F, readonly E[]> => Object.fromEntries([[field, list]]) as Record<F, readonly E[]>;
  return (state, type, data) => {
    if (type === 'snapshot') {
      const list = ((data as Record<F, readonly E[]>)[field] ?? []).map(stamp);
      return wrap(list);
    }
    if (type !== 'change' || state === undefined) return state;
    const change = data as Change<E>;
    return wrap(applyChange(state[field], { upserted: change.upserted.map(stamp), removed: change.removed }, keyOf, compare));
  };
}

/** A ticket as received, with when this browser received it (its wait counts on from there). */
export type SeenTicket = KitchenTicket & { readonly seenAt: number };

export const kitchenReducer = (now: () => number): LiveReducer<{ queue: readonly SeenTicket[] }> =>
  collectionReducer<SeenTicket, 'queue'>(
    'queue',
    (t) => t.orderId,
    (a, b) => a.confirmedAt - b.confirmedAt || byString(a.orderId, b.orderId),
    (t) => ({ ...t, seenAt: now() }),
  );

export const courierReducer: LiveReducer<{ queue: readonly CourierOrder[] }> = collectionReducer<CourierOrder, 'queue'>(
  'queue',
  (o) => o.orderId,
  (a, b) => (a.readyAt ?? 0) - (b.readyAt ?? 0) || byString(a.orderId, b.orderId),
);

const CATEGORY_ORDER: readonly Category[] = [...CATEGORIES, 'UNKNOWN'];

/** The menu's categories from a flat list of items: menu order, empty ones left out, items by name then id. */
export function groupMenu(items: readonly MenuItem[]): Menu {
  const rank = (c: Category): number => {
    const i = CATEGORY_ORDER.indexOf(c);
    return i === -1 ? CATEGORY_ORDER.length : i;
  };
  const sorted = [...items].sort((a, b) => rank(a.category) - rank(b.category) || byString(a.name, b.name) || byString(a.menuItemId, b.menuItemId));
  const categories: { category: Category; items: MenuItem[] }[] = [];
  for (const item of sorted) {
    const last = categories[categories.length - 1];
    if (last !== undefined && last.category === item.category) last.items.push(item);
    else categories.push({ category: item.category, items: [item] });
  }
  return { categories };
}

export const menuReducer: LiveReducer<Menu> = (state, type, data) => {
  if (type === 'snapshot') return data as Menu;
  if (type !== 'change' || state === undefined) return state;
  const change = data as Change<MenuItem>;
  const items = applyChange(state.categories.flatMap((c) => c.items), change, (i) => i.menuItemId, () => 0);
  return groupMenu(items);
};

/** An order's stream: every event is the whole document; an older version never replaces a newer one. */
export const orderReducer: LiveReducer<OrderDocument> = (state, type, data) => {
  if (type !== 'snapshot' && type !== 'change') return state;
  const doc = data as OrderDocument;
  return state !== undefined && type === 'change' && doc.version < state.version ? state : doc;
};
