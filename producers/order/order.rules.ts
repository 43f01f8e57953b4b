// The order's state preconditions, one pure function per command, and the
// tasks they make available. The decider asks `orderPrecondition` before it
// looks at a command's payload, so a refusal here is the decider's own
// rejection; the query side asks the same functions which tasks to offer
// (docs/live-updates.md#actions). One set of rules, two callers.
import type { Actor, OrderLine } from '../../schemas/generated/types';
import type { OrderCommand } from '../../schemas/messages';
import { authorize } from '../shared/authorization';
import { reject, type Refusal } from '../shared/decider';
import type { ExistingOrder, OrderLifecycle, OrderRejectionCode, OrderSettings } from './order.state';

/** Commands on an existing order (OpenOrder creates one and is not a task on it). */
export type OrderTaskCommand = Exclude<OrderCommand['type'], 'OpenOrder'>;

/** The order's tasks as the UI names them (camelCase command names), in the order `actions` lists them. */
export const ORDER_ACTIONS = {
  addItem: 'AddItemToOrder',
  removeItem: 'RemoveItemFromOrder',
  setDeliveryAddress: 'SetDeliveryAddress',
  place: 'PlaceOrder',
  cancel: 'CancelOrder',
  confirm: 'ConfirmOrder',
  reject: 'RejectOrder',
  startPreparation: 'StartPreparation',
  markReady: 'MarkOrderReady',
  dispatch: 'DispatchOrder',
  deliver: 'ConfirmDelivery',
} as const satisfies Record<string, OrderTaskCommand>;

export type OrderAction = keyof typeof ORDER_ACTIONS;
export const ORDER_ACTION_NAMES = Object.keys(ORDER_ACTIONS) as OrderAction[];

/** States from which an order can still be cancelled: everything before dispatch that is not closed. */
export const CANCELLABLE: ReadonlySet<OrderLifecycle> = new Set(['OPEN', 'PLACED', 'CONFIRMED', 'PREPARING', 'READY']);

/** What the rules read of an order: the decider's state, or the same fields of a read model's document. */
export type OrderFacts = Pick<ExistingOrder, 'status' | 'customerId' | 'lines' | 'deliveryAddress'>;

type Precondition = Refusal<OrderRejectionCode> | null;

/** Sum of quantity x unit price in minor units (lines share one currency). */
export function linesTotalMinor(lines: readonly OrderLine[]): number {
  return lines.reduce((sum, l) => sum + l.quantity * l.unitPrice.amountMinor, 0);
}

const needs = (order: OrderFacts, from: OrderLifecycle, code: OrderRejectionCode): Precondition =>
  order.status === from ? null : reject(code, `the order is ${order.status}; this step needs it to be ${from}`);

const open = (order: OrderFacts, what: string): Precondition =>
  order.status === 'OPEN' ? null : reject('order_not_open', `the order is ${order.status}; only an open order can ${what}`);

/**
 * Why `command` cannot apply to the order as it is, whatever its payload; null
 * when the state allows it. Payload checks (a valid address, a line that
 * exists, the new total within the limit) stay in the decider.
 */
export function orderPrecondition(command: OrderTaskCommand, order: OrderFacts, settings: OrderSettings): Precondition {
  switch (command) {
    case 'AddItemToOrder': {
      const problem = open(order, 'change');
      if (problem !== null) return problem;
      // No item costs less than one minor unit, so a total at the limit can take nothing more.
      const total = linesTotalMinor(order.lines);
      return total < settings.maxOrderTotalMinor ? null : reject('order_total_limit_exceeded', `the order total ${total} is already at the limit of ${settings.maxOrderTotalMinor}`);
    }
    case 'RemoveItemFromOrder': {
      const problem = open(order, 'change');
      return problem ?? (order.lines.length > 0 ? null : reject('line_not_found', 'the order has no lines'));
    }
    case 'SetDeliveryAddress':
      return open(order, 'change');
    case 'PlaceOrder': {
      const problem = open(order, 'be placed');
      if (problem !== null) return problem;
      if (order.lines.length === 0) return reject('empty_order', 'add at least one item before placing the order');
      if (order.deliveryAddress === null) return reject('missing_delivery_address', 'set a delivery address before placing the order');
      // Checked again here: the limit may have been lowered since the items were added.
      const total = linesTotalMinor(order.lines);
      return total <= settings.maxOrderTotalMinor ? null : reject('order_total_limit_exceeded', `the order total ${total} is above the limit of ${settings.maxOrderTotalMinor}`);
    }
    case 'CancelOrder':
      return CANCELLABLE.has(order.status)
        ? null
        : reject('order_cannot_be_cancelled', `the order is ${order.status}; only an order that has not been dispatched or closed can be cancelled`);
    case 'ConfirmOrder':
    case 'RejectOrder':
      return needs(order, 'PLACED', 'order_not_placed');
    case 'StartPreparation':
      return needs(order, 'CONFIRMED', 'order_not_confirmed');
    case 'MarkOrderReady':
      return needs(order, 'PREPARING', 'order_not_preparing');
    case 'DispatchOrder':
      return needs(order, 'READY', 'order_not_ready');
    case 'ConfirmDelivery':
      return needs(order, 'DISPATCHED', 'order_not_dispatched');
  }
}

/** Whether `actor` may issue `command` on this order: its role, and as a customer only on their own order. */
export function mayActOnOrder(actor: Actor, command: OrderTaskCommand, order: Pick<OrderFacts, 'customerId'>): boolean {
  return authorize(actor, command, () => order.customerId, 'orders') === null;
}

/**
 * The tasks `actor` can do on the order now: allowed for them and by the
 * state. `only` narrows them to one screen's tasks (the kitchen board offers
 * only the kitchen's).
 */
export function orderActions(order: OrderFacts, actor: Actor, settings: OrderSettings, only: readonly OrderAction[] = ORDER_ACTION_NAMES): OrderAction[] {
  return ORDER_ACTION_NAMES.filter((action) => {
    if (!only.includes(action)) return false;
    const command = ORDER_ACTIONS[action];
    return mayActOnOrder(actor, command, order) && orderPrecondition(command, order, settings) === null;
  });
}
