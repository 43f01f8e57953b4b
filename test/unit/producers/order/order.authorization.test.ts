// Who may act on an order: the order decider's authorization, given/when/then.
import { orderDecider } from '../../../../producers/order/order.decider';
import type { Address, Money, OrderLine } from '../../../../schemas/generated/types';
import type { OrderCommand, OrderEvent } from '../../../../schemas/messages';
import { actor, deciderSpec } from '../../../support/decider-spec';

const { given } = deciderSpec(orderDecider, { maxOrderTotalMinor: 20_000 }, 'o-1');

const eur = (amountMinor: number): Money => ({ amountMinor, currency: 'EUR' });
const address: Address = { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' };
const pizza: OrderLine = { menuItemId: 'm-pizza', menuItemName: 'Margherita', quantity: 2, unitPrice: eur(950) };

const opened: OrderEvent = { type: 'OrderOpened', data: { customerId: 'c-ada' } };
const pizzaAdded: OrderEvent = { type: 'ItemAddedToOrder', data: pizza };
const addressSet: OrderEvent = { type: 'DeliveryAddressSet', data: { address } };
const placed: OrderEvent = { type: 'OrderPlaced', data: { customerId: 'c-ada', lines: [pizza], deliveryAddress: address, total: eur(1900) } };
const confirmed: OrderEvent = { type: 'OrderConfirmed', data: {} };
const preparing: OrderEvent = { type: 'PreparationStarted', data: {} };
const ready: OrderEvent = { type: 'OrderReady', data: {} };
const basket = [opened, pizzaAdded, addressSet];
const atPlaced = [...basket, placed];
const atConfirmed = [...atPlaced, confirmed];
const atReady = [...atConfirmed, preparing, ready];

const ada = actor('c-ada', 'customer');
const bob = actor('c-bob', 'customer');
const kitchen = actor('k-1', 'kitchen');
const courier = actor('r-1', 'courier');
const manager = actor('mgr-1', 'manager');
const admin = actor('admin-1', 'admin');
const fulfilment = actor('order-fulfilment', 'system');

const openFor = (customerId: string): OrderCommand => ({ type: 'OpenOrder', data: { customerId } });
/** Every command a customer may issue on an order after opening it. */
const customerCommands: readonly OrderCommand[] = [
  { type: 'AddItemToOrder', data: { ...pizza, menuItemId: 'm-new' } },
  { type: 'RemoveItemFromOrder', data: { menuItemId: 'm-pizza' } },
  { type: 'SetDeliveryAddress', data: { address } },
  { type: 'PlaceOrder', data: {} },
  { type: 'CancelOrder', data: { reason: 'changed my mind' } },
];

describe('a customer opens orders for themself', () => {
  it('opens an order for their own customer id', () => {
    given([]).as(ada).when(openFor('c-ada')).then([opened]);
  });
  it('is forbidden to open an order for another customer', () => {
    given([]).as(bob).when(openFor('c-ada')).thenRejects('forbidden');
  });
  it("is forbidden to open an order under an id that is another customer's order (not told it exists)", () => {
    given([opened]).as(bob).when(openFor('c-bob')).thenRejects('forbidden');
  });
  it('is told that their own order already exists', () => {
    given([opened]).as(ada).when(openFor('c-ada')).thenRejects('order_already_exists');
  });
});

describe("a customer acts only on their own order", () => {
  it.each(customerCommands)('may $type their own order', (command) => {
    expect(given(basket).as(ada).when(command).decision.outcome).toBe('accepted');
  });
  it('places their own order', () => {
    given(basket).as(ada).when({ type: 'PlaceOrder', data: {} }).then([placed]);
  });
  it.each(customerCommands)("is forbidden to $type another customer's order", (command) => {
    given(basket).as(bob).when(command).thenRejects('forbidden');
  });
  it.each(customerCommands)('is forbidden to $type an order that does not exist, not told order_not_found', (command) => {
    given([]).as(bob).when(command).thenRejects('forbidden');
  });
  it('gets the same answer on a missing order as on another customer\'s, naming nobody', () => {
    const onExisting = given(basket).as(bob).when({ type: 'PlaceOrder', data: {} }).rejectionMessage();
    const onMissing = given([]).as(bob).when({ type: 'PlaceOrder', data: {} }).rejectionMessage();
    expect(onMissing).toBe(onExisting);
    expect(onExisting).not.toMatch(/c-ada/);
  });
  it.each<OrderCommand>([
    { type: 'ConfirmOrder', data: {} },
    { type: 'RejectOrder', data: { reason: 'no' } },
    { type: 'StartPreparation', data: {} },
    { type: 'DispatchOrder', data: {} },
    { type: 'ConfirmDelivery', data: {} },
  ])('is forbidden to $type, even on their own order (a staff or system step)', (command) => {
    given(atPlaced).as(ada).when(command).thenRejects('forbidden');
  });
  it('stays bound to their own orders when they also hold a role that may not issue the command', () => {
    given(basket).as(actor('c-bob', 'customer', 'courier')).when({ type: 'PlaceOrder', data: {} }).thenRejects('forbidden');
  });
});

describe('staff and the system act by role alone', () => {
  it("lets the kitchen start preparing any customer's confirmed order", () => {
    given(atConfirmed).as(kitchen).when({ type: 'StartPreparation', data: {} }).then([preparing]);
  });
  it('tells the kitchen about an order that does not exist (staff are not owners)', () => {
    given([]).as(kitchen).when({ type: 'StartPreparation', data: {} }).thenRejects('order_not_found');
  });
  it('lets a courier dispatch a ready order', () => {
    given(atReady).as(courier).when({ type: 'DispatchOrder', data: {} }).then([{ type: 'OrderDispatched', data: {} }]);
  });
  it('lets a manager cancel any order', () => {
    given(atPlaced).as(manager).when({ type: 'CancelOrder', data: { reason: 'kitchen closed' } }).then([{ type: 'OrderCancelled', data: { reason: 'kitchen closed' } }]);
  });
  it('lets order fulfilment (system) confirm a placed order', () => {
    given(atPlaced).as(fulfilment).when({ type: 'ConfirmOrder', data: {} }).then([confirmed]);
  });
  it('lets an admin do what a customer does on any order', () => {
    given(basket).as(admin).when({ type: 'PlaceOrder', data: {} }).then([placed]);
    given([]).as(admin).when(openFor('c-ada')).then([opened]);
  });
  it.each<[string, ReturnType<typeof actor>, OrderCommand]>([
    ['the kitchen', kitchen, { type: 'PlaceOrder', data: {} }],
    ['the kitchen', kitchen, { type: 'DispatchOrder', data: {} }],
    ['a courier', courier, { type: 'StartPreparation', data: {} }],
    ['a manager', manager, { type: 'ConfirmOrder', data: {} }],
    ['the system', fulfilment, { type: 'AddItemToOrder', data: pizza }],
    ['an actor without roles', actor('nobody'), { type: 'CancelOrder', data: { reason: 'x' } }],
  ])('forbids %s to %j', (_who, who, command) => {
    given(atConfirmed).as(who).when(command).thenRejects('forbidden');
  });
});

describe('a command without an actor', () => {
  it('is trusted: it was written before actors were recorded, by a writer the broker allowed', () => {
    given(atConfirmed).as(null).when({ type: 'StartPreparation', data: {} }).then([preparing]);
    given([]).as(null).when(openFor('c-ada')).then([opened]);
  });
});
