// Fixed order histories shared by the orders, kitchen and sales projection tests.
import type { Address, Money, OrderLine } from '../../schemas/generated/types';
import type { OrderEvent } from '../../schemas/messages';
import type { Envelope } from '../../consumers/projections/shared/projection';
import { history } from './projection-spec';

export const money = (amountMinor: number, currency = 'EUR'): Money => ({ amountMinor, currency });
export const address: Address = { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' };

export const line = (menuItemId: string, menuItemName: string, quantity: number, unitPrice: Money): OrderLine => ({
  menuItemId,
  menuItemName,
  quantity,
  unitPrice,
});

export type Step = 'placed' | 'confirmed' | 'preparing' | 'ready' | 'dispatched' | 'delivered';

export interface OrderScript {
  readonly orderId: string;
  readonly customerId: string;
  readonly lines: readonly OrderLine[];
  /** When each step happens (epoch ms); the order goes as far as the last step given, in lifecycle order. */
  readonly openedAt: number;
  readonly at: Partial<Record<Step, number>>;
  readonly rejected?: { readonly at: number; readonly reason: string };
  readonly cancelled?: { readonly at: number; readonly reason: string };
}

const STEP_EVENTS: readonly (readonly [Step, OrderEvent])[] = [
  ['confirmed', { type: 'OrderConfirmed', data: {} }],
  ['preparing', { type: 'PreparationStarted', data: {} }],
  ['ready', { type: 'OrderReady', data: {} }],
  ['dispatched', { type: 'OrderDispatched', data: {} }],
  ['delivered', { type: 'OrderDelivered', data: {} }],
];

/** An order's full event history, versions 1..n: opened, lines added, address set, then the scripted steps. */
export function orderHistory(script: OrderScript): Envelope<OrderEvent>[] {
  const { orderId, customerId, lines, openedAt } = script;
  const steps: [OrderEvent, number][] = [[{ type: 'OrderOpened', data: { customerId } }, openedAt]];
  lines.forEach((l, i) => steps.push([{ type: 'ItemAddedToOrder', data: l }, openedAt + 1000 * (i + 1)]));
  steps.push([{ type: 'DeliveryAddressSet', data: { address } }, openedAt + 1000 * (lines.length + 1)]);
  const first = lines[0];
  if (script.at.placed !== undefined && first !== undefined) {
    const total = money(lines.reduce((s, l) => s + l.quantity * l.unitPrice.amountMinor, 0), first.unitPrice.currency);
    steps.push([{ type: 'OrderPlaced', data: { customerId, lines, deliveryAddress: address, total } }, script.at.placed]);
  }
  if (script.rejected !== undefined) steps.push([{ type: 'OrderRejected', data: { reason: script.rejected.reason } }, script.rejected.at]);
  for (const [step, event] of STEP_EVENTS) {
    const at = script.at[step];
    if (at !== undefined) steps.push([event, at]);
  }
  if (script.cancelled !== undefined) steps.push([{ type: 'OrderCancelled', data: { reason: script.cancelled.reason } }, script.cancelled.at]);
  return history(orderId, steps);
}
