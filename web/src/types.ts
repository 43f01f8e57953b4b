// The shapes of the query API's answers the UI reads (docs/read-models.md).
// `actions` lists the tasks the document's current state allows its reader
// (docs/web-ui.md): buttons are shown for those and no others.

export interface Money {
  readonly amountMinor: number;
  readonly currency: string;
}

export interface Address {
  readonly line1: string;
  readonly line2: string | null;
  readonly city: string;
  readonly postalCode: string;
  readonly country: string;
}

export type Category = 'STARTER' | 'MAIN' | 'SIDE' | 'DESSERT' | 'DRINK' | 'UNKNOWN';
export const CATEGORIES: readonly Exclude<Category, 'UNKNOWN'>[] = ['STARTER', 'MAIN', 'SIDE', 'DESSERT', 'DRINK'];

export interface MenuItem {
  readonly menuItemId: string;
  readonly name: string;
  readonly description: string;
  readonly category: Category;
  readonly price: Money;
  readonly availability: 'AVAILABLE' | 'SOLD_OUT';
  readonly available: boolean;
  readonly actions?: readonly string[];
}

export interface Menu {
  readonly categories: readonly { readonly category: Category; readonly items: readonly MenuItem[] }[];
}

export type OrderStatus = 'OPEN' | 'PLACED' | 'CONFIRMED' | 'REJECTED' | 'PREPARING' | 'READY' | 'DISPATCHED' | 'DELIVERED' | 'CANCELLED' | 'UNKNOWN';

export interface OrderLine {
  readonly menuItemId: string;
  readonly menuItemName: string;
  readonly quantity: number;
  readonly unitPrice: Money;
}

export type TimelineStepName = 'opened' | 'placed' | 'confirmed' | 'rejected' | 'preparation_started' | 'ready' | 'dispatched' | 'delivered' | 'cancelled';

export interface TimelineStep {
  readonly step: TimelineStepName;
  readonly at: number;
  readonly version: number;
  readonly reason: string | null;
}

export interface OrderDocument {
  readonly orderId: string;
  readonly customerId: string;
  readonly status: OrderStatus;
  readonly lines: readonly OrderLine[];
  readonly total: Money | null;
  readonly deliveryAddress: Address | null;
  readonly reason: string | null;
  readonly openedAt: number;
  readonly placedAt: number | null;
  readonly updatedAt: number;
  readonly version: number;
  readonly timeline: readonly TimelineStep[];
  readonly actions?: readonly string[];
}

export interface OrderSummary {
  readonly orderId: string;
  readonly status: OrderStatus;
  readonly total: Money | null;
  readonly itemCount: number;
  readonly openedAt: number;
  readonly placedAt: number | null;
}

export interface Page<T> {
  readonly items: readonly T[];
  readonly offset: number;
  readonly limit: number;
  readonly nextOffset: number | null;
}

export interface Customer {
  readonly customerId: string;
  readonly name: string;
  readonly email: string;
  readonly signedUpAt: number;
  readonly addresses: readonly { readonly addressId: string; readonly address: Address; readonly addedAt: number }[];
}

export interface KitchenTicket {
  readonly orderId: string;
  readonly lines: readonly OrderLine[];
  readonly confirmedAt: number;
  readonly status: 'CONFIRMED' | 'PREPARING';
  readonly preparationStartedAt: number | null;
  readonly waitedMs: number;
  readonly actions?: readonly string[];
}

export interface SalesReport {
  readonly from: string;
  readonly to: string;
  readonly orders: number;
  readonly confirmed: number;
  readonly cancelled: number;
  readonly revenue: readonly Money[];
  readonly cancelledRevenue: readonly Money[];
  readonly daily: readonly { readonly day: string; readonly orders: number; readonly revenue: readonly Money[] }[];
}

export interface ItemSales {
  readonly from: string;
  readonly to: string;
  readonly items: readonly { readonly menuItemId: string; readonly name: string; readonly quantity: number; readonly revenue: readonly Money[] }[];
}

/** An order on the courier's list (ready or on its way). */
export interface CourierOrder {
  readonly orderId: string;
  readonly status: OrderStatus;
  readonly readyAt: number | null;
  readonly dispatchedAt: number | null;
  readonly waitedMs: number;
  readonly lines: readonly OrderLine[];
  readonly deliveryAddress: Address | null;
  readonly actions?: readonly string[];
}
