import {
  evolve,
  fromSnapshot,
  initialState,
  orderDecider,
  toSnapshot,
  type OrderSettings,
  type OrderRejectionCode,
} from '../../../../producers/order/order.decider';
import { evolveAll } from '../../../../producers/shared/decider';
import type { Address, Money, OrderLine } from '../../../../schemas/generated/types';
import type { OrderCommand, OrderEvent } from '../../../../schemas/messages';
import { deciderSpec } from '../../../support/decider-spec';

const settings: OrderSettings = { maxOrderTotalMinor: 20_000 };
const { given } = deciderSpec(orderDecider, settings, 'o-1');

const eur = (amountMinor: number): Money => ({ amountMinor, currency: 'EUR' });
const address: Address = { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' };
const pizza: OrderLine = { menuItemId: 'm-pizza', menuItemName: 'Margherita', quantity: 2, unitPrice: eur(950) };
const wine: OrderLine = { menuItemId: 'm-wine', menuItemName: 'House red', quantity: 1, unitPrice: eur(2400) };

const opened: OrderEvent = { type: 'OrderOpened', data: { customerId: 'c-ada' } };
const pizzaAdded: OrderEvent = { type: 'ItemAddedToOrder', data: pizza };
const wineAdded: OrderEvent = { type: 'ItemAddedToOrder', data: wine };
const addressSet: OrderEvent = { type: 'DeliveryAddressSet', data: { address } };
const placed: OrderEvent = { type: 'OrderPlaced', data: { customerId: 'c-ada', lines: [pizza, wine], deliveryAddress: address, total: eur(4300) } };
const confirmed: OrderEvent = { type: 'OrderConfirmed', data: {} };
const rejected: OrderEvent = { type: 'OrderRejected', data: { reason: 'payment declined' } };
const preparing: OrderEvent = { type: 'PreparationStarted', data: {} };
const ready: OrderEvent = { type: 'OrderReady', data: {} };
const dispatched: OrderEvent = { type: 'OrderDispatched', data: {} };
const delivered: OrderEvent = { type: 'OrderDelivered', data: {} };
const cancelled: OrderEvent = { type: 'OrderCancelled', data: { reason: 'changed my mind' } };

const open = [opened];
const basket = [opened, pizzaAdded, wineAdded, addressSet];
const atPlaced = [...basket, placed];
const atConfirmed = [...atPlaced, confirmed];
const atPreparing = [...atConfirmed, preparing];
const atReady = [...atPreparing, ready];
const atDispatched = [...atReady, dispatched];
const atDelivered = [...atDispatched, delivered];
const atRejected = [...atPlaced, rejected];
const atCancelled = [...basket, cancelled];

const addPizza: OrderCommand = { type: 'AddItemToOrder', data: pizza };
const histories = { open, atPlaced, atConfirmed, atPreparing, atReady, atDispatched, atDelivered, atRejected, atCancelled };
type Stage = keyof typeof histories;
const stagesExcept = (...allowed: Stage[]): Stage[] => (Object.keys(histories) as Stage[]).filter((s) => !allowed.includes(s));

describe('OpenOrder', () => {
  it('opens an order for a customer', () => {
    given([]).when({ type: 'OpenOrder', data: { customerId: 'c-ada' } }).then([opened]);
  });
  it('rejects an order id that already exists', () => {
    given(open).when({ type: 'OpenOrder', data: { customerId: 'c-ada' } }).thenRejects('order_already_exists');
  });
  it('rejects an empty customer id', () => {
    given([]).when({ type: 'OpenOrder', data: { customerId: '' } }).thenRejects('invalid_customer_id');
  });
});

describe('commands on an order that does not exist', () => {
  const commands: OrderCommand[] = [
    addPizza,
    { type: 'RemoveItemFromOrder', data: { menuItemId: 'm-pizza' } },
    { type: 'SetDeliveryAddress', data: { address } },
    { type: 'PlaceOrder', data: {} },
    { type: 'CancelOrder', data: { reason: 'x' } },
    { type: 'ConfirmOrder', data: {} },
    { type: 'RejectOrder', data: { reason: 'x' } },
    { type: 'StartPreparation', data: {} },
    { type: 'MarkOrderReady', data: {} },
    { type: 'DispatchOrder', data: {} },
    { type: 'ConfirmDelivery', data: {} },
  ];
  it.each(commands.map((c) => [c.type, c] as const))('rejects %s with order_not_found', (_type, command) => {
    given([]).when(command).thenRejects('order_not_found');
  });
});

describe('AddItemToOrder', () => {
  it('adds a line at the captured unit price, trimming the name', () => {
    given(open).when({ type: 'AddItemToOrder', data: { ...pizza, menuItemName: ' Margherita ' } }).then([pizzaAdded]);
  });
  it.each([0, 100, -1, 1.5])('rejects quantity %p', (quantity) => {
    given(open).when({ type: 'AddItemToOrder', data: { ...pizza, quantity } }).thenRejects('invalid_quantity');
  });
  it.each([1, 99])('accepts quantity %p', (quantity) => {
    const line: OrderLine = { ...pizza, quantity, unitPrice: eur(100) };
    given(open).when({ type: 'AddItemToOrder', data: line }).then([{ type: 'ItemAddedToOrder', data: line }]);
  });
  it('rejects a non-positive unit price', () => {
    given(open).when({ type: 'AddItemToOrder', data: { ...pizza, unitPrice: eur(0) } }).thenRejects('invalid_price');
  });
  it('rejects a missing menu item id or name', () => {
    given(open).when({ type: 'AddItemToOrder', data: { ...pizza, menuItemId: '' } }).thenRejects('invalid_menu_item');
    given(open).when({ type: 'AddItemToOrder', data: { ...pizza, menuItemName: ' ' } }).thenRejects('invalid_menu_item');
  });
  it('rejects a line in another currency than the order', () => {
    given([opened, pizzaAdded]).when({ type: 'AddItemToOrder', data: { ...wine, unitPrice: { amountMinor: 2400, currency: 'USD' } } }).thenRejects('currency_mismatch');
  });
  it('rejects a menu item already in the order', () => {
    given([opened, pizzaAdded]).when({ type: 'AddItemToOrder', data: { ...pizza, quantity: 1 } }).thenRejects('item_already_in_order');
  });
  it('accepts a total exactly at the limit', () => {
    const line: OrderLine = { ...wine, quantity: 1, unitPrice: eur(20_000 - 1900) };
    given([opened, pizzaAdded]).when({ type: 'AddItemToOrder', data: line }).then([{ type: 'ItemAddedToOrder', data: line }]);
  });
  it('rejects a line that takes the total above the limit', () => {
    given([opened, pizzaAdded]).when({ type: 'AddItemToOrder', data: { ...wine, quantity: 8 } }).thenRejects('order_total_limit_exceeded');
  });
  it('uses the limit it is given, not a global one', () => {
    deciderSpec(orderDecider, { maxOrderTotalMinor: 1000 }).given(open).when(addPizza).thenRejects('order_total_limit_exceeded');
  });
  it.each(stagesExcept('open'))('rejects changes once the order is %s', (stage) => {
    given(histories[stage]).when({ type: 'AddItemToOrder', data: { ...pizza, menuItemId: 'm-new' } }).thenRejects('order_not_open');
  });
});

describe('RemoveItemFromOrder', () => {
  it('removes a line', () => {
    given(basket).when({ type: 'RemoveItemFromOrder', data: { menuItemId: 'm-wine' } }).then([{ type: 'ItemRemovedFromOrder', data: { menuItemId: 'm-wine' } }]);
  });
  it('rejects an item that is not in the order', () => {
    given(open).when({ type: 'RemoveItemFromOrder', data: { menuItemId: 'm-wine' } }).thenRejects('line_not_found');
  });
  it.each(stagesExcept('open'))('rejects changes once the order is %s', (stage) => {
    given(histories[stage]).when({ type: 'RemoveItemFromOrder', data: { menuItemId: 'm-pizza' } }).thenRejects('order_not_open');
  });
});

describe('SetDeliveryAddress', () => {
  it('sets a normalized address', () => {
    given(open).when({ type: 'SetDeliveryAddress', data: { address: { ...address, city: ' Amsterdam ' } } }).then([addressSet]);
  });
  it('rejects an invalid address', () => {
    given(open).when({ type: 'SetDeliveryAddress', data: { address: { ...address, line1: '' } } }).thenRejects('invalid_address');
  });
  it.each(stagesExcept('open'))('rejects changes once the order is %s', (stage) => {
    given(histories[stage]).when({ type: 'SetDeliveryAddress', data: { address } }).thenRejects('order_not_open');
  });
});

describe('PlaceOrder', () => {
  it('places an order with its lines, address and total', () => {
    given(basket).when({ type: 'PlaceOrder', data: {} }).then([placed]);
  });
  it('rejects an empty order', () => {
    given([opened, addressSet]).when({ type: 'PlaceOrder', data: {} }).thenRejects('empty_order');
  });
  it('rejects an order emptied again', () => {
    given([opened, pizzaAdded, addressSet, { type: 'ItemRemovedFromOrder', data: { menuItemId: 'm-pizza' } }]).when({ type: 'PlaceOrder', data: {} }).thenRejects('empty_order');
  });
  it('rejects an order without a delivery address', () => {
    given([opened, pizzaAdded]).when({ type: 'PlaceOrder', data: {} }).thenRejects('missing_delivery_address');
  });
  it('rejects an order whose total is above a limit lowered since the items were added', () => {
    deciderSpec(orderDecider, { maxOrderTotalMinor: 4000 }).given(basket).when({ type: 'PlaceOrder', data: {} }).thenRejects('order_total_limit_exceeded');
  });
  it.each(stagesExcept('open'))('rejects placing an order that is %s', (stage) => {
    given(histories[stage]).when({ type: 'PlaceOrder', data: {} }).thenRejects('order_not_open');
  });
});

describe('CancelOrder', () => {
  it.each(['open', 'atPlaced', 'atConfirmed', 'atPreparing', 'atReady'] as const)('cancels an order that is %s', (stage) => {
    given(histories[stage]).when({ type: 'CancelOrder', data: { reason: ' changed my mind ' } }).then([cancelled]);
  });
  it.each(['atDispatched', 'atDelivered', 'atRejected', 'atCancelled'] as const)('rejects cancelling an order that is %s', (stage) => {
    given(histories[stage]).when({ type: 'CancelOrder', data: { reason: 'too late' } }).thenRejects('order_cannot_be_cancelled');
  });
  it('rejects an empty reason', () => {
    given(open).when({ type: 'CancelOrder', data: { reason: '  ' } }).thenRejects('invalid_reason');
  });
});

describe('fulfilment', () => {
  it('confirms a placed order', () => {
    given(atPlaced).when({ type: 'ConfirmOrder', data: {} }).then([confirmed]);
  });
  it('rejects a placed order with a reason', () => {
    given(atPlaced).when({ type: 'RejectOrder', data: { reason: 'payment declined' } }).then([rejected]);
  });
  it('rejects RejectOrder without a reason', () => {
    given(atPlaced).when({ type: 'RejectOrder', data: { reason: '' } }).thenRejects('invalid_reason');
  });
  it('starts preparing a confirmed order', () => {
    given(atConfirmed).when({ type: 'StartPreparation', data: {} }).then([preparing]);
  });
  it('marks a preparing order ready', () => {
    given(atPreparing).when({ type: 'MarkOrderReady', data: {} }).then([ready]);
  });
  it('dispatches a ready order', () => {
    given(atReady).when({ type: 'DispatchOrder', data: {} }).then([dispatched]);
  });
  it('confirms delivery of a dispatched order', () => {
    given(atDispatched).when({ type: 'ConfirmDelivery', data: {} }).then([delivered]);
  });

  const steps: ReadonlyArray<[OrderCommand, Stage, OrderRejectionCode]> = [
    [{ type: 'ConfirmOrder', data: {} }, 'atPlaced', 'order_not_placed'],
    [{ type: 'RejectOrder', data: { reason: 'no' } }, 'atPlaced', 'order_not_placed'],
    [{ type: 'StartPreparation', data: {} }, 'atConfirmed', 'order_not_confirmed'],
    [{ type: 'MarkOrderReady', data: {} }, 'atPreparing', 'order_not_preparing'],
    [{ type: 'DispatchOrder', data: {} }, 'atReady', 'order_not_ready'],
    [{ type: 'ConfirmDelivery', data: {} }, 'atDispatched', 'order_not_dispatched'],
  ];
  const outOfOrder = steps.flatMap(([command, allowed, code]) => stagesExcept(allowed).map((stage) => [command.type, stage, command, code] as const));
  it.each(outOfOrder)('rejects %s when the order is %s', (_type, stage, command, code) => {
    given(histories[stage]).when(command).thenRejects(code);
  });
});

describe('order state and snapshots', () => {
  it('folds a full lifecycle', () => {
    expect(evolveAll(evolve, initialState, atDelivered)).toEqual({
      exists: true,
      status: 'DELIVERED',
      customerId: 'c-ada',
      lines: [pizza, wine],
      deliveryAddress: address,
      reason: null,
    });
  });
  it.each(Object.keys(histories) as Stage[])('round-trips the %s state through its snapshot record', (stage) => {
    const state = evolveAll(evolve, initialState, histories[stage]);
    const snapshot = toSnapshot('o-1', histories[stage].length, state);
    expect(snapshot).not.toBeNull();
    if (snapshot !== null) expect(fromSnapshot(snapshot)).toEqual({ aggregateId: 'o-1', version: histories[stage].length, state });
  });
});
