// The order aggregate's state and the names its decider and rules share: the
// rejection codes, the settings, the lifecycle (order.decider.ts decides and
// evolves it, order.rules.ts holds its preconditions).
import type { Address, OrderLine, OrderStatus } from '../../schemas/generated/types';
import { FORBIDDEN } from '../shared/authorization';
import type { CommandContext } from '../shared/decider';

export const ORDER_REJECTIONS = [
  FORBIDDEN,
  'order_already_exists',
  'order_not_found',
  'invalid_customer_id',
  'order_not_open',
  'invalid_menu_item',
  'invalid_quantity',
  'invalid_price',
  'currency_mismatch',
  'item_already_in_order',
  'line_not_found',
  'order_total_limit_exceeded',
  'invalid_address',
  'empty_order',
  'missing_delivery_address',
  'invalid_reason',
  'order_cannot_be_cancelled',
  'order_not_placed',
  'order_not_confirmed',
  'order_not_preparing',
  'order_not_ready',
  'order_not_dispatched',
] as const;
export type OrderRejectionCode = (typeof ORDER_REJECTIONS)[number];

/** Configuration the decider needs, passed in by the command processor (never a global). */
export interface OrderSettings {
  /** Largest allowed order total, in minor units of the order's currency. */
  readonly maxOrderTotalMinor: number;
}

/** A command's context plus the order settings. */
export type OrderContext = CommandContext & OrderSettings;

export type OrderLifecycle = Exclude<OrderStatus, 'UNKNOWN'>;

export interface ExistingOrder {
  readonly exists: true;
  readonly status: OrderLifecycle;
  readonly customerId: string;
  readonly lines: readonly OrderLine[];
  readonly deliveryAddress: Address | null;
  /** Why the order was cancelled or rejected. */
  readonly reason: string | null;
}

export type OrderState = { readonly exists: false } | ExistingOrder;

export const initialState: OrderState = { exists: false };
