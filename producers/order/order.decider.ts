// Order aggregate: a customer's basket while open, then its fulfilment:
//   OPEN -> PLACED -> CONFIRMED -> PREPARING -> READY -> DISPATCHED -> DELIVERED
//                  \-> REJECTED
//   any state before DISPATCHED (and not already closed) -> CANCELLED
// Unit prices are captured in AddItemToOrder (filled in by the gateway from the
// menu), so later menu price changes never alter an order.
import type { Address, Money, OrderLine, OrderSnapshot } from '../../schemas/generated/types';
import type { OrderCommand, OrderEvent } from '../../schemas/messages';
import {
  normalizeAddress,
  validatePersonal,
  validatePersonalAddress,
  validateId,
  validateMenuItemName,
  validatePrice,
  validateQuantity,
  validateReason,
} from '../../schemas/validation';
import { authorize as authorizeActor, type Forbidden } from '../shared/authorization';
import { orderPrecondition } from './order.rules';
import { accept, reject, SnapshotError, type CommandContext, type Decider, type Decision, type Refusal, type StateSnapshot } from '../shared/decider';
import { assertNever } from '../../kernel/assert-never';
import { initialState, type OrderContext, type OrderRejectionCode, type OrderState } from './order.state';

// The state's names, for the command processor and the tests that take the aggregate from here.
export { initialState, ORDER_REJECTIONS, type ExistingOrder, type OrderContext, type OrderLifecycle, type OrderRejectionCode, type OrderSettings, type OrderState } from './order.state';

type Result = Decision<OrderEvent, OrderRejectionCode>;

/** Sum of quantity x unit price; lines share one currency (enforced when added). */
export function orderTotal(lines: readonly OrderLine[], currency: string): Money {
  return { amountMinor: lines.reduce((sum, l) => sum + l.quantity * l.unitPrice.amountMinor, 0), currency };
}

/**
 * The customer who owns what an order command is about. OpenOrder: the customer
 * it opens the order for, unless the id is already another customer's order.
 * Any later command: the order's customer; nobody when the order does not exist.
 */
function ownerOf(command: OrderCommand, state: OrderState): string | null {
  if (command.type === 'OpenOrder') {
    return state.exists && state.customerId !== command.data.customerId ? null : command.data.customerId;
  }
  return state.exists ? state.customerId : null;
}

/** A customer acts only on their own orders; kitchen, couriers, managers, admins and the system by role. */
export function authorize(command: OrderCommand, state: OrderState, context: CommandContext): Refusal<Forbidden> | null {
  return authorizeActor(context.actor, command.type, () => ownerOf(command, state), 'orders');
}

export function decide(command: OrderCommand, state: OrderState, context: OrderContext): Result {
  const forbidden = authorize(command, state, context);
  if (forbidden !== null) return forbidden;
  if (command.type === 'OpenOrder') {
    if (state.exists) return reject('order_already_exists', 'an order with this id already exists');
    const problem = validateId('customerId', command.data.customerId);
    if (problem !== null) return reject('invalid_customer_id', problem);
    return accept({ type: 'OrderOpened', data: { customerId: command.data.customerId } });
  }
  if (!state.exists) return reject('order_not_found', 'no order with this id');
  // What the state must be, whatever the payload: the same rules the query side offers tasks by.
  const precondition = orderPrecondition(command.type, state, context);
  if (precondition !== null) return precondition;

  switch (command.type) {
    case 'AddItemToOrder': {
      const { menuItemId, menuItemName, quantity, unitPrice } = command.data;
      const problem = validateId('menuItemId', menuItemId) ?? validateMenuItemName(menuItemName);
      if (problem !== null) return reject('invalid_menu_item', problem);
      const quantityProblem = validateQuantity(quantity);
      if (quantityProblem !== null) return reject('invalid_quantity', quantityProblem);
      const priceProblem = validatePrice(unitPrice);
      if (priceProblem !== null) return reject('invalid_price', priceProblem);
      const first = state.lines[0];
      if (first !== undefined && first.unitPrice.currency !== unitPrice.currency) {
        return reject('currency_mismatch', `the order is in ${first.unitPrice.currency}, the item is priced in ${unitPrice.currency}`);
      }
      if (state.lines.some((l) => l.menuItemId === menuItemId)) {
        return reject('item_already_in_order', `"${menuItemId}" is already in the order; remove its line to change the quantity`);
      }
      const line: OrderLine = { menuItemId, menuItemName: menuItemName.trim(), quantity, unitPrice };
      const total = orderTotal([...state.lines, line], unitPrice.currency);
      if (total.amountMinor > context.maxOrderTotalMinor) {
        return reject('order_total_limit_exceeded', `the order total would be ${total.amountMinor}, above the limit of ${context.maxOrderTotalMinor}`);
      }
      return accept({ type: 'ItemAddedToOrder', data: line });
    }
    case 'RemoveItemFromOrder': {
      const { menuItemId } = command.data;
      if (!state.lines.some((l) => l.menuItemId === menuItemId)) return reject('line_not_found', `"${menuItemId}" is not in the order`);
      return accept({ type: 'ItemRemovedFromOrder', data: { menuItemId } });
    }
    case 'SetDeliveryAddress': {
      const problem = validatePersonalAddress(command.data.address);
      if (problem !== null) return reject('invalid_address', problem);
      return accept({ type: 'DeliveryAddressSet', data: { address: normalizeAddress(command.data.address) } });
    }
    case 'PlaceOrder': {
      // The precondition saw a line and an address.
      const currency = state.lines[0]?.unitPrice.currency ?? '';
      const deliveryAddress = state.deliveryAddress as Address;
      const total = orderTotal(state.lines, currency);
      return accept({ type: 'OrderPlaced', data: { customerId: state.customerId, lines: state.lines, deliveryAddress, total } });
    }
    case 'CancelOrder': {
      const problem = validatePersonal('reason', command.data.reason, validateReason);
      if (problem !== null) return reject('invalid_reason', problem);
      return accept({ type: 'OrderCancelled', data: { reason: command.data.reason.trim() } });
    }
    case 'ConfirmOrder':
      return accept({ type: 'OrderConfirmed', data: {} });
    case 'RejectOrder': {
      const problem = validatePersonal('reason', command.data.reason, validateReason);
      if (problem !== null) return reject('invalid_reason', problem);
      return accept({ type: 'OrderRejected', data: { reason: command.data.reason.trim() } });
    }
    case 'StartPreparation':
      return accept({ type: 'PreparationStarted', data: {} });
    case 'MarkOrderReady':
      return accept({ type: 'OrderReady', data: {} });
    case 'DispatchOrder':
      return accept({ type: 'OrderDispatched', data: {} });
    case 'ConfirmDelivery':
      return accept({ type: 'OrderDelivered', data: {} });
    default:
      return assertNever(command, 'order command');
  }
}

export function evolve(state: OrderState, event: OrderEvent): OrderState {
  if (event.type === 'OrderOpened') {
    return { exists: true, status: 'OPEN', customerId: event.data.customerId, lines: [], deliveryAddress: null, reason: null };
  }
  if (!state.exists) return state;
  switch (event.type) {
    case 'ItemAddedToOrder':
      return { ...state, lines: [...state.lines, event.data] };
    case 'ItemRemovedFromOrder':
      return { ...state, lines: state.lines.filter((l) => l.menuItemId !== event.data.menuItemId) };
    case 'DeliveryAddressSet':
      return { ...state, deliveryAddress: event.data.address };
    case 'OrderPlaced':
      return { ...state, status: 'PLACED', lines: event.data.lines, deliveryAddress: event.data.deliveryAddress };
    case 'OrderCancelled':
      return { ...state, status: 'CANCELLED', reason: event.data.reason };
    case 'OrderConfirmed':
      return { ...state, status: 'CONFIRMED' };
    case 'OrderRejected':
      return { ...state, status: 'REJECTED', reason: event.data.reason };
    case 'PreparationStarted':
      return { ...state, status: 'PREPARING' };
    case 'OrderReady':
      return { ...state, status: 'READY' };
    case 'OrderDispatched':
      return { ...state, status: 'DISPATCHED' };
    case 'OrderDelivered':
      return { ...state, status: 'DELIVERED' };
    default:
      return assertNever(event, 'order event');
  }
}

export const orderDecider: Decider<OrderCommand, OrderEvent, OrderState, OrderRejectionCode, OrderContext> = {
  initialState,
  decide,
  evolve,
};

export function toSnapshot(orderId: string, version: number, state: OrderState): StateSnapshot<OrderSnapshot> | null {
  if (!state.exists) return null;
  const { status, customerId, lines, deliveryAddress, reason } = state;
  return { orderId, version, status, customerId, lines, deliveryAddress, reason };
}

export function fromSnapshot(snapshot: StateSnapshot<OrderSnapshot>): { aggregateId: string; version: number; state: OrderState } {
  const { orderId, version, status, customerId, lines, deliveryAddress, reason } = snapshot;
  if (status === 'UNKNOWN') {
    throw new SnapshotError(`order ${orderId}: snapshot holds a status this build does not know; rebuild it from events`);
  }
  return { aggregateId: orderId, version, state: { exists: true, status, customerId, lines, deliveryAddress, reason } };
}
