// Every route's happy path: the request becomes exactly the right command
// envelope (aggregate, type, payload, metadata) and the outcome the right reply.
import { CustomerCommandTypes, EmailCommandTypes, MenuCommandTypes, OrderCommandTypes } from '../../../../schemas/generated/types';
import type { DomainCommand } from '../../../../schemas/messages';
import type { CommandAggregate } from '../../../../producers/gateway/command-bus';
import { ROUTES } from '../../../../producers/gateway/routes';
import { ADMIN_ACTOR, FIXED_NOW, PIZZA, REPLY_WAIT_MS, startGateway, type GatewayHarness } from '../../../support/gateway';
import { consistencyToken } from '../../../../schemas/consistency-token';

const ADDRESS = { line1: ' Keizersgracht 1 ', line2: '', city: 'Amsterdam', postalCode: '1015 CJ', country: 'NL' };
const NORMALIZED_ADDRESS = { line1: 'Keizersgracht 1', line2: null, city: 'Amsterdam', postalCode: '1015 CJ', country: 'NL' };

interface Case {
  readonly path: string;
  readonly body?: unknown;
  readonly aggregate: CommandAggregate;
  /** undefined for creations: the gateway mints it (id-2 with sequential ids). */
  readonly aggregateId?: string;
  readonly command: DomainCommand;
  readonly location?: string;
}

const cases: readonly Case[] = [
  { path: '/customers/cust-1/name', body: { name: '  Ada Lovelace ' }, aggregate: 'customer', aggregateId: 'cust-1', command: { type: 'ChangeCustomerName', data: { name: 'Ada Lovelace' } } },
  {
    path: '/customers/cust-1/addresses',
    body: { addressId: 'home', address: ADDRESS },
    aggregate: 'customer',
    aggregateId: 'cust-1',
    command: { type: 'AddDeliveryAddress', data: { addressId: 'home', address: NORMALIZED_ADDRESS } },
  },
  { path: '/customers/cust-1/addresses/home/remove', aggregate: 'customer', aggregateId: 'cust-1', command: { type: 'RemoveDeliveryAddress', data: { addressId: 'home' } } },
  { path: '/customers/cust-1/forget', aggregate: 'customer', aggregateId: 'cust-1', command: { type: 'ForgetCustomer', data: {} } },
  {
    path: '/menu/items',
    body: { name: 'Pizza Margherita', description: 'Tomato, mozzarella, basil', category: 'MAIN', price: { amountMinor: 1250, currency: 'EUR' } },
    aggregate: 'menu',
    command: { type: 'AddMenuItem', data: { name: 'Pizza Margherita', description: 'Tomato, mozzarella, basil', category: 'MAIN', price: { amountMinor: 1250, currency: 'EUR' } } },
    location: '/menu/items/id-2',
  },
  {
    path: '/menu/items/pizza-1/price',
    body: { price: { amountMinor: 1350, currency: 'EUR' } },
    aggregate: 'menu',
    aggregateId: 'pizza-1',
    command: { type: 'ChangeMenuItemPrice', data: { price: { amountMinor: 1350, currency: 'EUR' } } },
  },
  { path: '/menu/items/pizza-1/sold-out', aggregate: 'menu', aggregateId: 'pizza-1', command: { type: 'MarkMenuItemSoldOut', data: {} } },
  { path: '/menu/items/pizza-1/available', aggregate: 'menu', aggregateId: 'pizza-1', command: { type: 'MarkMenuItemAvailable', data: {} } },
  { path: '/menu/items/pizza-1/remove', aggregate: 'menu', aggregateId: 'pizza-1', command: { type: 'RemoveMenuItem', data: {} } },
  { path: '/orders', body: { customerId: 'cust-1' }, aggregate: 'order', command: { type: 'OpenOrder', data: { customerId: 'cust-1' } }, location: '/orders/id-2' },
  {
    path: '/orders/order-1/items',
    body: { menuItemId: PIZZA.menuItemId, quantity: 2 },
    aggregate: 'order',
    aggregateId: 'order-1',
    command: { type: 'AddItemToOrder', data: { menuItemId: PIZZA.menuItemId, menuItemName: PIZZA.name, quantity: 2, unitPrice: PIZZA.price } },
  },
  { path: '/orders/order-1/items/pizza-1/remove', aggregate: 'order', aggregateId: 'order-1', command: { type: 'RemoveItemFromOrder', data: { menuItemId: 'pizza-1' } } },
  { path: '/orders/order-1/delivery-address', body: { address: ADDRESS }, aggregate: 'order', aggregateId: 'order-1', command: { type: 'SetDeliveryAddress', data: { address: NORMALIZED_ADDRESS } } },
  { path: '/orders/order-1/place', aggregate: 'order', aggregateId: 'order-1', command: { type: 'PlaceOrder', data: {} } },
  { path: '/orders/order-1/cancel', body: { reason: ' changed my mind ' }, aggregate: 'order', aggregateId: 'order-1', command: { type: 'CancelOrder', data: { reason: 'changed my mind' } } },
  { path: '/orders/order-1/confirm', aggregate: 'order', aggregateId: 'order-1', command: { type: 'ConfirmOrder', data: {} } },
  { path: '/orders/order-1/reject', body: { reason: 'payment declined' }, aggregate: 'order', aggregateId: 'order-1', command: { type: 'RejectOrder', data: { reason: 'payment declined' } } },
  { path: '/orders/order-1/start-preparation', aggregate: 'order', aggregateId: 'order-1', command: { type: 'StartPreparation', data: {} } },
  { path: '/orders/order-1/ready', aggregate: 'order', aggregateId: 'order-1', command: { type: 'MarkOrderReady', data: {} } },
  { path: '/orders/order-1/dispatch', aggregate: 'order', aggregateId: 'order-1', command: { type: 'DispatchOrder', data: {} } },
  { path: '/orders/order-1/deliver', aggregate: 'order', aggregateId: 'order-1', command: { type: 'ConfirmDelivery', data: {} } },
];

let gw: GatewayHarness;
beforeEach(async () => {
  gw = await startGateway();
});
afterEach(async () => {
  await gw.close();
});

describe('route table', () => {
  it('has a route for every command of the domain (email commands through POST /customers)', () => {
    const routed = new Set<string>(ROUTES.map((r) => r.commandType));
    const viaSignUp = new Set<string>(EmailCommandTypes);
    const all = [...CustomerCommandTypes, ...MenuCommandTypes, ...OrderCommandTypes, ...EmailCommandTypes];
    expect(all.filter((type) => !routed.has(type) && !viaSignUp.has(type))).toEqual([]);
    expect(ROUTES.map((r) => `${r.method} ${r.path}`)).toEqual([...new Set(ROUTES.map((r) => `${r.method} ${r.path}`))]);
  });

  it('has a happy-path case below for every route but sign-up (tested in sign-up.test.ts)', () => {
    const covered = new Set(cases.map((c) => c.command.type));
    expect(ROUTES.filter((r) => r.kind !== 'sign-up' && !covered.has(r.commandType)).map((r) => r.path)).toEqual([]);
  });
});

describe.each(cases)('POST $path', (c) => {
  it(`sends ${c.command.type} to the ${c.aggregate} aggregate and answers with its outcome`, async () => {
    const res = await gw.request('POST', c.path, c.body === undefined ? {} : { json: c.body });

    const creates = c.aggregateId === undefined;
    const aggregateId = c.aggregateId ?? 'id-2';
    expect(gw.bus.sent).toEqual([
      {
        aggregate: c.aggregate,
        command: c.command,
        metadata: { commandId: 'id-1', aggregateId, correlationId: 'id-1', issuedAt: FIXED_NOW, expectedVersion: null, actor: ADMIN_ACTOR },
      },
    ]);
    expect(gw.bus.waits).toEqual([REPLY_WAIT_MS]);
    expect(res.status).toBe(creates ? 201 : 200);
    expect(res.headers.get('etag')).toBe('"1"');
    expect(res.headers.get('location')).toBe(c.location ?? null);
    expect(res.headers.get('x-correlation-id')).toBe('id-1');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toEqual({
      commandId: 'id-1',
      aggregateId,
      aggregateVersion: 1,
      events: [{ eventType: `${c.command.type}Done`, aggregateId, version: 1, topic: `restaurant.${c.aggregate}.events`, partition: 0, offset: 42 }],
      consistencyToken: consistencyToken([{ topic: `restaurant.${c.aggregate}.events`, partition: 0, offset: 42 }]),
    });
  });
});

describe('body-less routes', () => {
  it('accept an empty JSON object as well as no body', async () => {
    const res = await gw.post('/orders/order-1/place', {});
    expect(res.status).toBe(200);
    expect(gw.bus.sent).toHaveLength(1);
  });

  it('accept an empty body whatever its Content-Type', async () => {
    const res = await gw.request('POST', '/orders/order-1/confirm', { raw: '', headers: { 'content-type': 'text/plain' } });
    expect(res.status).toBe(200);
  });
});

describe('AddItemToOrder', () => {
  it('takes name and unit price from the menu, asking it for exactly the requested item', async () => {
    await gw.post('/orders/order-1/items', { menuItemId: PIZZA.menuItemId, quantity: 3 });
    expect(gw.menu.asked).toEqual([PIZZA.menuItemId]);
    expect(gw.bus.sent[0]?.command).toEqual({
      type: 'AddItemToOrder',
      data: { menuItemId: PIZZA.menuItemId, menuItemName: 'Pizza Margherita', quantity: 3, unitPrice: { amountMinor: 1250, currency: 'EUR' } },
    });
  });
});

describe('AddMenuItem', () => {
  it('defaults a missing description to empty', async () => {
    await gw.post('/menu/items', { name: 'Cola', category: 'DRINK', price: { amountMinor: 300, currency: 'EUR' } });
    expect(gw.bus.sent[0]?.command).toEqual({ type: 'AddMenuItem', data: { name: 'Cola', description: '', category: 'DRINK', price: { amountMinor: 300, currency: 'EUR' } } });
  });
});
