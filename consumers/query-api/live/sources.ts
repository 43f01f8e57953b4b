// What each live collection reads and how its entries are rendered for a
// caller: the same documents as the GET routes, with `actions`
// (docs/live-updates.md). The feeds hold entries without time-dependent
// fields; `waitedMs` is added when an event is sent.
import type Redis from 'ioredis';
import type { Principal } from '../../../infra/auth/principal';
import type { OrderSettings } from '../../../producers/order/order.state';
import type { AddressOpener, CourierEntryView } from '../../projections/kitchen/courier.query';
import { waitedMs, type KitchenTicketView } from '../../projections/kitchen/kitchen.query';
import type { MenuItemView, MenuView } from '../../projections/menu/menu.query';
import type { OrderDocument } from '../../projections/orders/orders.projection';
import { orderView } from '../../projections/orders/orders.query';
import { readCourierQueue, readCustomerOrders, readKitchenQueue, readMenu } from '../readers';
import { courierEntryTasks, kitchenTicketTasks, menuItemTasks, menuTasks, orderSummaryTasks } from '../tasks';
import type { CollectionSource } from './feed';

/** A live collection: where its entries come from, and how a snapshot and an entry look to a caller. */
export interface LiveCollection<Item> extends CollectionSource<Item> {
  snapshot(items: readonly Item[], caller: Principal, now: number): unknown;
  entry(item: Item, caller: Principal, now: number): unknown;
  /** Callers for whom entries render alike (their roles; also who they are where ownership matters). */
  callerKind(caller: Principal): string;
}

const byRoles = (caller: Principal): string => [...caller.roles].sort().join(',');

export type StoredTicket = Omit<KitchenTicketView, 'waitedMs'>;
export type StoredCourierEntry = Omit<CourierEntryView, 'waitedMs'>;

const withoutWait = <T extends { waitedMs: number }>({ waitedMs: _waited, ...rest }: T): Omit<T, 'waitedMs'> => rest;

export function menuCollection(redis: Redis): LiveCollection<MenuItemView> {
  return {
    model: 'menu',
    read: async (keyspace) => (await readMenu(redis, keyspace)).categories.flatMap((c) => c.items),
    idOf: (item) => item.menuItemId,
    snapshot: (items, caller) => {
      const categories: { category: MenuItemView['category']; items: MenuItemView[] }[] = [];
      for (const item of items) {
        const last = categories[categories.length - 1];
        if (last?.category === item.category) last.items.push(item);
        else categories.push({ category: item.category, items: [item] });
      }
      const menu: MenuView = { categories };
      return menuTasks(menu, caller);
    },
    entry: (item, caller) => menuItemTasks(item, caller),
    callerKind: byRoles,
  };
}

export function kitchenCollection(redis: Redis): LiveCollection<StoredTicket> {
  const view = (t: StoredTicket, caller: Principal, now: number) => kitchenTicketTasks({ ...t, waitedMs: waitedMs(t.confirmedAt, now) }, caller);
  return {
    model: 'kitchen',
    read: async (keyspace) => (await readKitchenQueue(redis, keyspace, 0)).map(withoutWait),
    idOf: (t) => t.orderId,
    snapshot: (items, caller, now) => ({ queue: items.map((t) => view(t, caller, now)) }),
    entry: view,
    callerKind: byRoles,
  };
}

export function courierCollection(redis: Redis, openAddress?: AddressOpener): LiveCollection<StoredCourierEntry> {
  const view = (e: StoredCourierEntry, caller: Principal, now: number) => courierEntryTasks({ ...e, waitedMs: waitedMs(e.readyAt, now) }, caller);
  return {
    model: 'kitchen',
    read: async (keyspace) => (await readCourierQueue(redis, keyspace, 0, openAddress)).map(withoutWait),
    idOf: (e) => e.orderId,
    snapshot: (items, caller, now) => ({ queue: items.map((e) => view(e, caller, now)) }),
    entry: view,
    callerKind: byRoles,
  };
}

/** A customer's newest `limit` orders, as summaries with actions. */
export function customerOrdersCollection(redis: Redis, customerId: string, limit: number, settings: OrderSettings): LiveCollection<OrderDocument> {
  return {
    model: 'orders',
    read: async (keyspace) => (await readCustomerOrders(redis, keyspace, customerId, 0, limit - 1)).map(orderView).filter((d): d is OrderDocument => d !== null),
    idOf: (d) => d.orderId,
    snapshot: (items, caller) => ({ items: items.map((d) => orderSummaryTasks(d, caller, settings)) }),
    entry: (d, caller) => orderSummaryTasks(d, caller, settings),
    callerKind: (caller) => `${byRoles(caller)}|${caller.subject}`,
  };
}
