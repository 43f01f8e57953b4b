// Who may use which route (docs/security.md): every route × every role. A
// role the command table (COMMAND_ROLES) does not allow gets 403 and nothing
// reaches the bus; an allowed one gets its command sent with the principal as
// the actor. Customers act only as themselves. Missing or bad tokens get 401
// with WWW-Authenticate; a principal over its rate limit gets 429.
import { authenticate } from '../../../../infra/auth/express';
import { requestLimiter } from '../../../../infra/auth/rate-limit';
import { ROUTES } from '../../../../producers/gateway/routes';
import { COMMAND_ROLES } from '../../../../producers/shared/permissions';
import { ROLES } from '../../../../schemas/roles';
import { PIZZA, startGateway, type GatewayHarness } from '../../../support/gateway';
import { testVerifier } from '../../../support/auth';

const ME = 'cust-1';
const ADDRESS = { line1: 'Keizersgracht 1', line2: '', city: 'Amsterdam', postalCode: '1015 CJ', country: 'NL' };
/** A valid request for each route, on the customer ME (so a customer passes the ownership check). */
const REQUESTS: Readonly<Record<string, { readonly path: string; readonly body?: unknown }>> = {
  SignUpCustomer: { path: '/customers', body: { name: 'Ada', email: 'ada@example.com' } },
  ChangeCustomerName: { path: `/customers/${ME}/name`, body: { name: 'Ada' } },
  AddDeliveryAddress: { path: `/customers/${ME}/addresses`, body: { addressId: 'home', address: ADDRESS } },
  RemoveDeliveryAddress: { path: `/customers/${ME}/addresses/home/remove` },
  ForgetCustomer: { path: `/customers/${ME}/forget` },
  AddMenuItem: { path: '/menu/items', body: { name: 'Soup', description: '', category: 'STARTER', price: { amountMinor: 500, currency: 'EUR' } } },
  ChangeMenuItemPrice: { path: '/menu/items/m-1/price', body: { price: { amountMinor: 600, currency: 'EUR' } } },
  MarkMenuItemSoldOut: { path: '/menu/items/m-1/sold-out' },
  MarkMenuItemAvailable: { path: '/menu/items/m-1/available' },
  RemoveMenuItem: { path: '/menu/items/m-1/remove' },
  OpenOrder: { path: '/orders', body: { customerId: ME } },
  AddItemToOrder: { path: '/orders/o-1/items', body: { menuItemId: PIZZA.menuItemId, quantity: 1 } },
  RemoveItemFromOrder: { path: `/orders/o-1/items/${PIZZA.menuItemId}/remove` },
  SetDeliveryAddress: { path: '/orders/o-1/delivery-address', body: { address: ADDRESS } },
  PlaceOrder: { path: '/orders/o-1/place' },
  CancelOrder: { path: '/orders/o-1/cancel', body: { reason: 'changed my mind' } },
  ConfirmOrder: { path: '/orders/o-1/confirm' },
  RejectOrder: { path: '/orders/o-1/reject', body: { reason: 'declined' } },
  StartPreparation: { path: '/orders/o-1/start-preparation' },
  MarkOrderReady: { path: '/orders/o-1/ready' },
  DispatchOrder: { path: '/orders/o-1/dispatch' },
  ConfirmDelivery: { path: '/orders/o-1/deliver' },
};

let gw: GatewayHarness;
beforeEach(async () => {
  gw = await startGateway();
});
afterEach(async () => {
  await gw.close();
});

const send = async (commandType: string, headers: Record<string, string>, body?: unknown) => {
  const request = REQUESTS[commandType];
  if (request === undefined) throw new Error(`no request for ${commandType}`);
  const json = body ?? request.body;
  return gw.request('POST', request.path, { ...(json === undefined ? {} : { json }), headers });
};

describe('the route table × the roles', () => {
  it('has a request for every route', () => {
    expect(ROUTES.map((r) => r.commandType).filter((t) => REQUESTS[t] === undefined)).toEqual([]);
  });

  const grid = ROUTES.flatMap((route) => ROLES.map((role) => ({ commandType: route.commandType, role, allowed: (COMMAND_ROLES[route.commandType] as readonly string[]).includes(role) })));

  it.each(grid)('$commandType as $role: allowed=$allowed', async ({ commandType, role, allowed }) => {
    const res = await send(commandType, await gw.as(role, role === 'customer' ? ME : `staff-${role}`));
    if (allowed) {
      expect(res.status).toBeLessThan(300);
      expect(gw.bus.sent.length).toBeGreaterThan(0);
      for (const envelope of gw.bus.sent) expect(envelope.metadata.actor).toEqual({ subject: role === 'customer' ? ME : `staff-${role}`, roles: [role] });
    } else {
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ error: { code: 'forbidden', message: expect.stringContaining(commandType) } });
      expect(gw.bus.sent).toEqual([]);
    }
  });

  it('refuses a token without any project role on every route', async () => {
    for (const route of ROUTES) expect((await send(route.commandType, await gw.as([], 'nobody'))).status).toBe(403);
    expect(gw.bus.sent).toEqual([]);
  });

  it('refuses before reading the body: a forbidden caller with malformed JSON still gets 403', async () => {
    const res = await gw.request('POST', '/menu/items', { raw: '{"name": ', headers: { 'content-type': 'application/json', ...(await gw.as('customer', ME)) } });
    expect(res.status).toBe(403);
  });
});

describe('a customer acts only as themself', () => {
  it.each(['ChangeCustomerName', 'AddDeliveryAddress', 'RemoveDeliveryAddress'])('%s on another customer: 403, nothing sent', async (commandType) => {
    expect((await send(commandType, await gw.as('customer', 'cust-2'))).status).toBe(403);
    expect(gw.bus.sent).toEqual([]);
  });

  it('signs up with their subject as the customer id (admin gets a minted one)', async () => {
    const mine = await send('SignUpCustomer', await gw.as('customer', 'cust-9'));
    expect(mine.status).toBe(201);
    expect(mine.headers.get('location')).toBe('/customers/cust-9');
    expect(gw.bus.sent.find((e) => e.command.type === 'SignUpCustomer')?.metadata.aggregateId).toBe('cust-9');
    const admin = await send('SignUpCustomer', await gw.as('admin', 'ops'), { name: 'Bo', email: 'bo@example.com' });
    expect(admin.headers.get('location')).toMatch(/^\/customers\/id-\d+$/);
  });

  it('opens orders only for themself; without customerId the order is theirs', async () => {
    expect((await send('OpenOrder', await gw.as('customer', ME), { customerId: 'cust-2' })).status).toBe(403);
    expect(gw.bus.sent).toEqual([]);
    expect((await send('OpenOrder', await gw.as('customer', ME), {})).status).toBe(201);
    expect(gw.bus.sent[0]?.command).toEqual({ type: 'OpenOrder', data: { customerId: ME } });
    // staff and admin name the customer
    expect((await send('OpenOrder', await gw.as('admin', 'ops'), { customerId: 'cust-2' })).status).toBe(201);
    expect((await send('OpenOrder', await gw.as('admin', 'ops'), {})).status).toBe(400);
  });

  it('a customer who is also a manager cancels as a manager (no ownership restriction from the customer role)', async () => {
    expect((await send('CancelOrder', await gw.as(['customer', 'manager'], 'both'))).status).toBe(200);
  });

  it('two principals with the same Idempotency-Key get different commands', async () => {
    await send('OpenOrder', { ...(await gw.as('customer', 'a')), 'Idempotency-Key': 'k-1' }, { customerId: 'a' });
    await send('OpenOrder', { ...(await gw.as('customer', 'b')), 'Idempotency-Key': 'k-1' }, { customerId: 'b' });
    const [first, second] = gw.bus.sent;
    expect(first?.metadata.commandId).not.toBe(second?.metadata.commandId);
    expect(first?.metadata.aggregateId).not.toBe(second?.metadata.aggregateId);
  });
});

describe('authentication', () => {
  const refused: [string, () => Promise<Record<string, string>>, string][] = [
    ['no token', async () => ({ authorization: '' }), 'Bearer realm="restaurant"'],
    ['garbage', async () => ({ authorization: 'Bearer abc.def' }), 'Bearer realm="restaurant", error="invalid_token"'],
    ['a Basic header', async () => ({ authorization: 'Basic YTpi' }), 'Bearer realm="restaurant", error="invalid_token"'],
  ];

  it.each(refused)('%s → 401 with WWW-Authenticate, the error shape, nothing sent', async (_what, headers, challenge) => {
    const res = await gw.post('/orders', { customerId: ME }, await headers());
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain(challenge);
    expect(res.body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    expect(gw.bus.sent).toEqual([]);
  });

  it('an expired token → 401 invalid_token saying so', async () => {
    const expired = await gw.as('admin');
    const stale = await startGateway({ authenticate: authenticate(testVerifier(gw.key, () => Date.now() + 2 * 3600_000)) });
    try {
      const res = await stale.post('/orders', { customerId: ME }, expired);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="restaurant", error="invalid_token", error_description="the token has expired"');
    } finally {
      await stale.close();
    }
  });

  it('GET /commands/:id and unknown routes need a token too', async () => {
    expect((await gw.request('GET', '/commands/c-1', { headers: { authorization: '' } })).status).toBe(401);
    expect((await gw.request('GET', '/nowhere', { headers: { authorization: '' } })).status).toBe(401);
    expect((await gw.request('GET', '/commands/c-1', { headers: await gw.as('courier') })).status).toBe(404);
  });
});

describe('rate limits', () => {
  it('a principal over its limit gets 429 with Retry-After; another principal is not affected', async () => {
    const limited = await startGateway({ authenticate: authenticate(testVerifier(gw.key), { perPrincipal: requestLimiter(2, 60) }) });
    try {
      const ada = await limited.as('customer', ME);
      expect((await limited.post('/orders', { customerId: ME }, ada)).status).toBe(201);
      expect((await limited.post('/orders', { customerId: ME }, ada)).status).toBe(201);
      const third = await limited.post('/orders', { customerId: ME }, ada);
      expect(third.status).toBe(429);
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(third.body).toEqual({ error: { code: 'rate_limited', message: expect.any(String) } });
      expect(limited.bus.sent.filter((e) => e.command.type === 'OpenOrder')).toHaveLength(2);
      expect((await limited.post('/orders', { customerId: 'cust-2' }, await limited.as('customer', 'cust-2'))).status).toBe(201);
    } finally {
      await limited.close();
    }
  });

  it('an address sending bad tokens gets 429 once over its limit, before any verification', async () => {
    const limited = await startGateway({ authenticate: authenticate(testVerifier(gw.key), { failedPerAddress: requestLimiter(3, 60) }) });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i += 1) statuses.push((await limited.post('/orders', { customerId: ME }, { authorization: 'Bearer bad' })).status);
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
    } finally {
      await limited.close();
    }
  });
});
