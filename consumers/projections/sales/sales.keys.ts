// Keys of the sales read model (one bucket per UTC day):
//   rm:{ks}:sales:day:<YYYY-MM-DD>     hash   orders, confirmed, cancelled, revenue:<CUR>, cancelledRevenue:<CUR>
//   rm:{ks}:sales:items:<YYYY-MM-DD>   hash   qty:<menuItemId>, revenue:<CUR>:<menuItemId>, name:<menuItemId>
//   rm:{ks}:sales:order:<orderId>      string JSON SalesOrderState, the projection's per-order state; deleted once
//                                             the order can no longer change the figures (rejected, cancelled, dispatched)
//   rm:{ks}:sales:v:<orderId>          string version guard (runtime)
import { readModelPrefix, perKeyspace } from '../shared/keys';

export interface SalesKeys {
  day(day: string): string;
  items(day: string): string;
  order(orderId: string): string;
}

export const salesKeys = perKeyspace((keyspace: string): SalesKeys => {
  const prefix = readModelPrefix(keyspace, 'sales');
  return {
    day: (day) => `${prefix}day:${day}`,
    items: (day) => `${prefix}items:${day}`,
    order: (orderId) => `${prefix}order:${orderId}`,
  };
});

/** Field names inside the day and items hashes; ids and currencies always come last. */
export const SALES_FIELDS = Object.freeze({
  orders: 'orders',
  confirmed: 'confirmed',
  cancelled: 'cancelled',
  revenue: (currency: string) => `revenue:${currency}`,
  cancelledRevenue: (currency: string) => `cancelledRevenue:${currency}`,
  itemQuantity: (menuItemId: string) => `qty:${menuItemId}`,
  itemRevenue: (currency: string, menuItemId: string) => `revenue:${currency}:${menuItemId}`,
  itemName: (menuItemId: string) => `name:${menuItemId}`,
});
