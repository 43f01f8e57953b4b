// The tasks a document offers its reader (docs/live-updates.md#actions): the
// read model's documents with `actions` added, from the deciders' own pure
// rules (producers/order/order.rules.ts, producers/menu/menu-item.rules.ts)
// and the caller's roles and ownership. Pure: no express, no Redis.
import type { Principal } from '../../infra/auth/principal';
import { menuItemActions, type MenuItemAction } from '../../producers/menu/menu-item.rules';
import type { OrderSettings } from '../../producers/order/order.state';
import { orderActions, type OrderAction, type OrderFacts } from '../../producers/order/order.rules';
import type { CourierEntryView } from '../projections/kitchen/courier.query';
import type { KitchenTicketView } from '../projections/kitchen/kitchen.query';
import type { MenuItemView, MenuView } from '../projections/menu/menu.query';
import type { OrderDocument } from '../projections/orders/orders.projection';
import { orderSummary, type OrderSummary } from '../projections/orders/orders.query';

export type WithActions<T, A> = T & { readonly actions: readonly A[] };

/** The rules' view of an order document; null when its status is one this build does not know (no tasks). */
function facts(doc: Pick<OrderDocument, 'status' | 'customerId' | 'lines' | 'deliveryAddress'>): OrderFacts | null {
  const { status, customerId, lines, deliveryAddress } = doc;
  return status === 'UNKNOWN' ? null : { status, customerId, lines, deliveryAddress };
}

export function orderDocumentTasks(doc: OrderDocument, caller: Principal, settings: OrderSettings): WithActions<OrderDocument, OrderAction> {
  const order = facts(doc);
  return { ...doc, actions: order === null ? [] : orderActions(order, caller, settings) };
}

export function orderSummaryTasks(doc: OrderDocument, caller: Principal, settings: OrderSettings): WithActions<OrderSummary, OrderAction> {
  return { ...orderSummary(doc), actions: orderDocumentTasks(doc, caller, settings).actions };
}

export function menuItemTasks(item: MenuItemView, caller: Principal): WithActions<MenuItemView, MenuItemAction> {
  return { ...item, actions: menuItemActions(item.availability, caller) };
}

export function menuTasks(menu: MenuView, caller: Principal): { categories: { category: MenuView['categories'][number]['category']; items: WithActions<MenuItemView, MenuItemAction>[] }[] } {
  return { categories: menu.categories.map((c) => ({ category: c.category, items: c.items.map((i) => menuItemTasks(i, caller)) })) };
}

const KITCHEN_TASKS: readonly OrderAction[] = ['startPreparation', 'markReady'];
const COURIER_TASKS: readonly OrderAction[] = ['dispatch', 'deliver'];
/** Board and courier screens act as staff: ownership never applies to their tasks, and the order limit does not bear on them. */
const NO_LIMIT: OrderSettings = { maxOrderTotalMinor: Number.MAX_SAFE_INTEGER };

export function kitchenTicketTasks(ticket: KitchenTicketView, caller: Principal): WithActions<KitchenTicketView, OrderAction> {
  const order: OrderFacts = { status: ticket.status, customerId: '', lines: ticket.lines, deliveryAddress: null };
  return { ...ticket, actions: orderActions(order, caller, NO_LIMIT, KITCHEN_TASKS) };
}

export function courierEntryTasks(entry: CourierEntryView, caller: Principal): WithActions<CourierEntryView, OrderAction> {
  const order: OrderFacts = { status: entry.status, customerId: '', lines: entry.lines, deliveryAddress: entry.deliveryAddress };
  return { ...entry, actions: orderActions(order, caller, NO_LIMIT, COURIER_TASKS) };
}
