// The shapes of the query API's answers the UI reads (docs/read-models.md):
// the server's own types, imported type-only (erased from the bundle; no
// server code reaches the browser), plus `actions`: the tasks the document's
// current state allows its reader (docs/web-ui.md), for which buttons are
// shown and no others.
import type { MenuCategory } from '../../schemas/generated/types';
import type { CourierEntryView } from '../../consumers/projections/kitchen/courier.query';
import type { KitchenTicketView } from '../../consumers/projections/kitchen/kitchen.query';
import type { MenuItemView } from '../../consumers/projections/menu/menu.query';
import type { OrderDocument as StoredOrder, TimelineEntry, TimelineStep as TimelineStepKind } from '../../consumers/projections/orders/orders.projection';
import type { ItemSales as ItemSalesRow, SalesReport as FullSalesReport } from '../../consumers/projections/sales/sales.query';
import type { PageOf } from '../../consumers/projections/shared/pagination';

export type { Address, Money, OrderLine, OrderStatus } from '../../schemas/generated/types';
export type { CustomerView as Customer } from '../../consumers/projections/customers/customers.query';
export type { OrderSummary } from '../../consumers/projections/orders/orders.query';

/** The tasks the query API adds to a document for its reader (consumers/query-api/tasks.ts). */
interface Tasks {
  readonly actions?: readonly string[];
}

export type Category = MenuCategory;
export const CATEGORIES: readonly Exclude<Category, 'UNKNOWN'>[] = ['STARTER', 'MAIN', 'SIDE', 'DESSERT', 'DRINK'];

export type MenuItem = MenuItemView & Tasks;

export interface Menu {
  readonly categories: readonly { readonly category: Category; readonly items: readonly MenuItem[] }[];
}

export type TimelineStepName = TimelineStepKind;
export type TimelineStep = TimelineEntry;
export type OrderDocument = StoredOrder & Tasks;

export type Page<T> = PageOf<T>;

export type KitchenTicket = KitchenTicketView & Tasks;

/** An order on the courier's list (ready or on its way). */
export type CourierOrder = CourierEntryView & Tasks;

/** GET /stats/sales: the report without its per-item part. */
export type SalesReport = Omit<FullSalesReport, 'items'>;

/** GET /stats/items: the per-item part. */
export interface ItemSales {
  readonly from: string;
  readonly to: string;
  readonly items: readonly ItemSalesRow[];
}
