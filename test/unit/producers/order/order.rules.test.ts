// The tasks an order offers are exactly the commands its decider accepts:
// over random orders and callers, an action is in orderActions() if and only
// if decide() accepts that command (with a valid payload) and it changes
// something. Plus a few worked examples a reader can check by eye.
import fc from 'fast-check';
import { decide, type ExistingOrder, type OrderLifecycle } from '../../../../producers/order/order.decider';
import { ORDER_ACTION_NAMES, ORDER_ACTIONS, orderActions, type OrderAction } from '../../../../producers/order/order.rules';
import type { Actor, Address, OrderLine } from '../../../../schemas/generated/types';
import type { OrderCommand } from '../../../../schemas/messages';
import { ROLES } from '../../../../schemas/roles';

const address: Address = { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' };
const LIFECYCLE: readonly OrderLifecycle[] = ['OPEN', 'PLACED', 'CONFIRMED', 'REJECTED', 'PREPARING', 'READY', 'DISPATCHED', 'DELIVERED', 'CANCELLED'];
const CUSTOMERS = ['c-ada', 'c-bob'] as const;

/** A valid command for each task, as a screen would send it. */
function commandFor(action: OrderAction, order: ExistingOrder): OrderCommand {
  const currency = order.lines[0]?.unitPrice.currency ?? 'EUR';
  switch (action) {
    case 'addItem':
      return { type: 'AddItemToOrder', data: { menuItemId: 'm-new', menuItemName: 'Tiramisu', quantity: 1, unitPrice: { amountMinor: 1, currency } } };
    case 'removeItem':
      return { type: 'RemoveItemFromOrder', data: { menuItemId: order.lines[0]?.menuItemId ?? 'm-none' } };
    case 'setDeliveryAddress':
      return { type: 'SetDeliveryAddress', data: { address } };
    case 'cancel':
      return { type: 'CancelOrder', data: { reason: 'changed my mind' } };
    case 'reject':
      return { type: 'RejectOrder', data: { reason: 'payment declined' } };
    default:
      return { type: ORDER_ACTIONS[action], data: {} } as OrderCommand;
  }
}

const line = (i: number, quantity: number, amountMinor: number): OrderLine => ({
  menuItemId: `m-${i}`,
  menuItemName: `Dish ${i}`,
  quantity,
  unitPrice: { amountMinor, currency: 'EUR' },
});

const orderArb: fc.Arbitrary<ExistingOrder> = fc.record({
  exists: fc.constant(true as const),
  status: fc.constantFrom(...LIFECYCLE),
  customerId: fc.constantFrom(...CUSTOMERS),
  lines: fc.array(fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5_000 })), { maxLength: 3 }).map((ls) => ls.map(([q, p], i) => line(i, q, p))),
  deliveryAddress: fc.option(fc.constant(address), { nil: null }),
  reason: fc.constant(null),
});

const actorArb: fc.Arbitrary<Actor> = fc.record({
  subject: fc.constantFrom(...CUSTOMERS, 'staff-1'),
  roles: fc.subarray([...ROLES, 'system'], { minLength: 0, maxLength: 3 }),
});

describe('orderActions', () => {
  it('offers an action exactly when the decider accepts that command and it changes the order', () => {
    fc.assert(
      fc.property(orderArb, actorArb, fc.integer({ min: 1, max: 40_000 }), (order, actor, maxOrderTotalMinor) => {
        const settings = { maxOrderTotalMinor };
        const offered = orderActions(order, actor, settings);
        for (const action of ORDER_ACTION_NAMES) {
          const decision = decide(commandFor(action, order), order, { aggregateId: 'o-1', actor, maxOrderTotalMinor });
          const accepted = decision.outcome === 'accepted' && decision.events.length > 0;
          expect({ action, offered: offered.includes(action) }).toEqual({ action, offered: accepted });
        }
      }),
      { numRuns: 3_000 },
    );
  });

  const basket: ExistingOrder = { exists: true, status: 'OPEN', customerId: 'c-ada', lines: [line(0, 2, 950)], deliveryAddress: address, reason: null };
  const settings = { maxOrderTotalMinor: 100_000 };
  const as = (subject: string, ...roles: string[]): Actor => ({ subject, roles });

  it('gives the owner of a full basket its tasks, and another customer none', () => {
    expect(orderActions(basket, as('c-ada', 'customer'), settings)).toEqual(['addItem', 'removeItem', 'setDeliveryAddress', 'place', 'cancel']);
    expect(orderActions(basket, as('c-bob', 'customer'), settings)).toEqual([]);
  });

  it('does not offer place without an address or lines', () => {
    expect(orderActions({ ...basket, deliveryAddress: null }, as('c-ada', 'customer'), settings)).not.toContain('place');
    expect(orderActions({ ...basket, lines: [] }, as('c-ada', 'customer'), settings)).toEqual(['addItem', 'setDeliveryAddress', 'cancel']);
  });

  it('gives the kitchen, the courier and a manager their steps', () => {
    expect(orderActions({ ...basket, status: 'CONFIRMED' }, as('k-1', 'kitchen'), settings)).toEqual(['startPreparation']);
    expect(orderActions({ ...basket, status: 'PREPARING' }, as('k-1', 'kitchen'), settings)).toEqual(['markReady']);
    expect(orderActions({ ...basket, status: 'READY' }, as('r-1', 'courier'), settings)).toEqual(['dispatch']);
    expect(orderActions({ ...basket, status: 'DISPATCHED' }, as('r-1', 'courier'), settings)).toEqual(['deliver']);
    expect(orderActions({ ...basket, status: 'READY' }, as('m-1', 'manager'), settings)).toEqual(['cancel']);
    expect(orderActions({ ...basket, status: 'DELIVERED' }, as('a-1', 'admin'), settings)).toEqual([]);
  });

  it('narrows to one screen with `only`', () => {
    expect(orderActions({ ...basket, status: 'CONFIRMED' }, as('a-1', 'admin'), settings, ['startPreparation', 'markReady'])).toEqual(['startPreparation']);
  });
});
