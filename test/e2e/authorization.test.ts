/**
 * Authentication and authorization on the real stack (docs/security.md): the
 * command side (one `commands` process), the projectors and the query API as
 * users run them, each request with a token minted from the local signing key.
 *
 * - Every role does what it may: customers sign up, open, fill and place their
 *   own orders and read them; the kitchen prepares; couriers deliver; managers
 *   run the menu and read sales; admin confirms (as fulfilment would).
 * - What a role may not do answers 403 and writes nothing: the end offsets of
 *   every commands topic are unchanged.
 * - Customer A cannot read customer B's profile, orders or order: the same 404
 *   as for an id that does not exist.
 * - Expired, tampered, wrong-issuer, wrong-audience and alg-none tokens → 401.
 * - A gateway verifying with an OIDC provider's JWKS URL (a tiny local server
 *   here) accepts that provider's tokens, fetching its keys once, not per request.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { UnsecuredJWT } from 'jose';
import { READ_MODELS } from '../../consumers/projections/shared/keys';
import { projectionGroupId } from '../../consumers/projections/runtime/read-models';
import { mintToken } from '../../infra/auth/local-issuer';
import { generateSigningKey } from '../../infra/auth/local-keys';
import { allTopicSpecs } from '../../infra/kafka/topics';
import type { Role } from '../../schemas/roles';
import { bearer, claimsFor, stackSigningKey } from '../support/auth';
import { call, type Reply } from '../support/http';
import { testKafka, testRedis, unique, withAdmin } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { dropKeys } from '../support/read-side';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';

jest.setTimeout(300_000);

const kafka = testKafka('e2e-authorization');
const keyspace = unique('e2e-auth').toLowerCase();
const env = { COMMAND_WAIT_MS: '5000', READ_MODEL_KEYSPACE: keyspace, CONSISTENCY_WAIT_MS: '5000' };
const roles: RoleProcess[] = [];
let gateway = '';
let query = '';

const A = unique('cust-a');
const B = unique('cust-b');
const as: Partial<Record<Role | 'customerA' | 'customerB', Record<string, string>>> = {};
const headers = (who: keyof typeof as): Record<string, string> => {
  const h = as[who];
  if (h === undefined) throw new Error(`no token for ${who}`);
  return h;
};

beforeAll(async () => {
  const [commands, q, projectors] = await Promise.all([startRole('commands', env), startRole('query', env), startRole('projectors', env)]);
  roles.push(commands, q, projectors);
  gateway = commands.url;
  query = q.queryUrl;
  for (const role of ['kitchen', 'courier', 'manager', 'admin'] as const) as[role] = await bearer(role, `staff-${role}`);
  as.customerA = await bearer('customer', A);
  as.customerB = await bearer('customer', B);
  // A fresh keyspace: each read model answers 503 `rebuilding` until it has caught up with the history on the broker.
  const today = new Date().toISOString().slice(0, 10);
  for (const path of ['/menu', '/kitchen/queue', `/stats/sales?from=${today}&to=${today}`, '/orders/none', '/customers/none']) {
    await waitFor(`${path} answering`, async () => ((await call(query, 'GET', path, undefined, headers('admin'))).status === 503 ? undefined : true), 120_000, 500);
  }
});

afterAll(async () => {
  await Promise.all(roles.map((r) => r.stop().catch(() => null)));
  const redis = testRedis();
  await redis.connect();
  await dropKeys(redis, `rm:{${keyspace}}:*`);
  await redis.quit();
  await withAdmin(kafka, (admin) => admin.deleteGroups(READ_MODELS.map((m) => projectionGroupId(m, keyspace)))).catch(() => undefined);
});

async function commandTopicEnds(): Promise<number> {
  return topicEnds('commands');
}

/** The sum of the end offsets of every topic of one role (commands, events, ...). */
async function topicEnds(role: 'commands' | 'events'): Promise<number> {
  const topics = allTopicSpecs().filter((t) => t.role === role).map((t) => t.name);
  return withAdmin(kafka, async (admin) => {
    let sum = 0;
    for (const topic of topics) for (const p of await admin.fetchTopicOffsets(topic)) sum += Number(p.high);
    return sum;
  });
}

const expectStatus = (reply: Reply, status: number, what: string): Reply => {
  if (reply.status !== status) throw new Error(`${what}: expected ${status}, got ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply;
};
const post = (who: keyof typeof as, path: string, body: unknown = {}) => call(gateway, 'POST', path, body, headers(who));
const get = (who: keyof typeof as, path: string, token?: string) => call(query, 'GET', path, undefined, { ...headers(who), ...(token === undefined ? {} : { 'X-Consistency-Token': token }) });
const address = { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' };

let menuItemId = '';
let orderA = '';

describe('each role does what it may', () => {
  it('manager: adds a dish and reprices it, reads sales and the menu', async () => {
    const added = expectStatus(await post('manager', '/menu/items', { name: 'Authorized soup', description: '', category: 'STARTER', price: { amountMinor: 650, currency: 'EUR' } }), 201, 'add dish');
    menuItemId = added.body.aggregateId as string;
    const repriced = expectStatus(await post('manager', `/menu/items/${menuItemId}/price`, { price: { amountMinor: 700, currency: 'EUR' } }), 200, 'reprice');
    expectStatus(await get('manager', '/menu', repriced.body.consistencyToken as string), 200, 'menu');
    const today = new Date().toISOString().slice(0, 10);
    expectStatus(await get('manager', `/stats/sales?from=${today}&to=${today}`), 200, 'sales');
  });

  it('customers: sign up as themselves, open (without naming themselves), fill and place their own order, read it and their profile', async () => {
    const signedUp = expectStatus(await post('customerA', '/customers', { name: 'Ada', email: `${A}@example.com` }), 201, 'sign up A');
    expect(signedUp.headers.get('location')).toBe(`/customers/${A}`);
    expectStatus(await post('customerB', '/customers', { name: 'Bo', email: `${B}@example.com` }), 201, 'sign up B');
    const named = expectStatus(await post('customerA', `/customers/${A}/addresses`, { addressId: 'home', address }), 200, 'address');

    const opened = expectStatus(await post('customerA', '/orders', {}), 201, 'open');
    orderA = opened.body.aggregateId as string;
    expectStatus(await post('customerA', `/orders/${orderA}/items`, { menuItemId, quantity: 2 }), 200, 'add item');
    expectStatus(await post('customerA', `/orders/${orderA}/delivery-address`, { address }), 200, 'address');
    const placed = expectStatus(await post('customerA', `/orders/${orderA}/place`), 200, 'place');

    const order = expectStatus(await get('customerA', `/orders/${orderA}`, placed.body.consistencyToken as string), 200, 'read order');
    expect(order.body).toMatchObject({ orderId: orderA, customerId: A, status: 'PLACED' });
    expectStatus(await get('customerA', `/customers/${A}`, named.body.consistencyToken as string), 200, 'read profile');
    const mine = expectStatus(await get('customerA', `/customers/${A}/orders`, placed.body.consistencyToken as string), 200, 'read my orders');
    expect(mine.body.items).toEqual([expect.objectContaining({ orderId: orderA })]);
  });

  it("a customer signing up again is refused and keeps their address: nobody else can take it", async () => {
    const again = await post('customerA', '/customers', { name: 'Ada', email: `${A}@example.com` });
    expect(again.status).toBe(409);
    const thief = await call(gateway, 'POST', '/customers', { name: 'Eve', email: `${A}@example.com` }, await bearer('customer', unique('cust-e')));
    expect({ status: thief.status, code: (thief.body.error as { code?: string } | undefined)?.code }).toEqual({ status: 409, code: 'email_taken' });
  });

  it('admin confirms (as fulfilment would); kitchen prepares and reads its queue; courier dispatches, delivers and reads the order', async () => {
    const confirmed = expectStatus(await post('admin', `/orders/${orderA}/confirm`), 200, 'confirm');
    const queue = expectStatus(await get('kitchen', '/kitchen/queue', confirmed.body.consistencyToken as string), 200, 'queue');
    expect(JSON.stringify(queue.body)).toContain(orderA);
    expectStatus(await post('kitchen', `/orders/${orderA}/start-preparation`), 200, 'start');
    expectStatus(await post('kitchen', `/orders/${orderA}/ready`), 200, 'ready');
    expectStatus(await post('courier', `/orders/${orderA}/dispatch`), 200, 'dispatch');
    const delivered = expectStatus(await post('courier', `/orders/${orderA}/deliver`), 200, 'deliver');
    const seen = expectStatus(await get('courier', `/orders/${orderA}`, delivered.body.consistencyToken as string), 200, 'courier reads');
    expect(seen.body).toMatchObject({ status: 'DELIVERED' });
    expectStatus(await get('admin', `/customers/${A}`), 200, 'admin reads a profile');
  });
});

describe('what a role may not do', () => {
  const forbiddenCommands: [keyof typeof as, string, unknown][] = [
    ['customerA', '/menu/items', { name: 'Free lunch', description: '', category: 'MAIN', price: { amountMinor: 1, currency: 'EUR' } }],
    ['customerA', '/orders/ORDER/confirm', {}],
    ['customerA', '/orders/ORDER/start-preparation', {}],
    ['customerA', '/orders/ORDER/dispatch', {}],
    ['customerA', `/customers/${B}/name`, { name: 'Mallory' }],
    ['customerA', '/orders', { customerId: B }],
    ['kitchen', '/menu/items/MENU/price', { price: { amountMinor: 1, currency: 'EUR' } }],
    ['kitchen', '/orders/ORDER/dispatch', {}],
    ['kitchen', '/orders', { customerId: A }],
    ['courier', '/orders/ORDER/start-preparation', {}],
    ['courier', '/orders/ORDER/cancel', { reason: 'no' }],
    ['manager', '/orders/ORDER/confirm', {}],
    ['manager', '/orders/ORDER/ready', {}],
    ['manager', '/customers', { name: 'Sock puppet', email: 'sock@example.com' }],
  ];

  it('gets 403 for every forbidden command and writes nothing to any commands topic', async () => {
    const before = await commandTopicEnds();
    for (const [who, path, body] of forbiddenCommands) {
      const reply = await post(who, path.replace('ORDER', orderA).replace('MENU', menuItemId), body);
      expect({ who, path, status: reply.status, code: (reply.body.error as { code?: string } | undefined)?.code }).toEqual({ who, path, status: 403, code: 'forbidden' });
    }
    expect(await commandTopicEnds()).toBe(before);
  });

  it('gets 403 on query routes the role may never use', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const forbiddenReads: [keyof typeof as, string][] = [
      ['customerA', '/kitchen/queue'],
      ['customerA', `/stats/sales?from=${today}&to=${today}`],
      ['kitchen', `/stats/items?from=${today}&to=${today}`],
      ['kitchen', `/customers/${A}`],
      ['courier', '/kitchen/queue'],
      ['manager', `/customers/${A}/orders`],
    ];
    for (const [who, path] of forbiddenReads) expect({ who, path, status: (await get(who, path)).status }).toEqual({ who, path, status: 403 });
  });

  it("customer B cannot change A's order or profile: the decider answers 403, word for word as for ids that do not exist, and no event is written", async () => {
    const missing = unique('nobody');
    const eventsBefore = await topicEnds('events');
    const attempts: [string, string, unknown][] = [
      [`/orders/${orderA}/cancel`, `/orders/${missing}/cancel`, { reason: 'not mine' }],
      [`/orders/${orderA}/items`, `/orders/${missing}/items`, { menuItemId, quantity: 1 }],
      [`/customers/${A}/addresses`, `/customers/${missing}/addresses`, { addressId: 'work', address }],
    ];
    for (const [theirs, unknown, body] of attempts) {
      const [other, none] = [await post('customerB', theirs, body), await post('customerB', unknown, body)];
      expect({ path: theirs, status: other.status, code: (other.body.error as { code?: string } | undefined)?.code }).toEqual({ path: theirs, status: 403, code: 'forbidden' });
      expect(none.status).toBe(403);
      const anonymised = (reply: Reply, id: string): string => JSON.stringify(reply.body.error).replaceAll(id, 'ID');
      expect(anonymised(other, theirs.split('/')[2] as string)).toBe(anonymised(none, missing));
    }
    // The attempts are recorded as commands with their refusals; no aggregate changed.
    expect(await topicEnds('events')).toBe(eventsBefore);
  });

  it("customer B cannot read A's order, profile or orders: the same 404 as for ids that do not exist", async () => {
    const missing = unique('nobody');
    const pairs: [string, string][] = [
      [`/orders/${orderA}`, `/orders/${missing}`],
      [`/customers/${A}`, `/customers/${missing}`],
      [`/customers/${A}/orders`, `/customers/${missing}/orders`],
    ];
    for (const [theirs, unknown] of pairs) {
      const [other, none] = [await get('customerB', theirs), await get('customerB', unknown)];
      expect(other.status).toBe(404);
      expect(none.status).toBe(404);
      // Same code, same message but for the id asked about.
      expect(JSON.stringify(other.body).replaceAll(theirs.split('/')[2] as string, 'ID')).toBe(JSON.stringify(none.body).replaceAll(missing, 'ID'));
    }
  });
});

describe('tokens that are refused (401)', () => {
  it('expired, tampered, wrong issuer, wrong audience, alg none, a system role, none at all', async () => {
    const key = await stackSigningKey();
    const now = Math.floor(Date.now() / 1000);
    const good = await mintToken(key, claimsFor('admin', 'x'));
    const [h, , s] = good.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ sub: 'x', roles: ['admin'], iss: 'restaurant-local', aud: 'restaurant', exp: now + 600, extra: 1 })).toString('base64url');
    const tokens: Record<string, string> = {
      expired: await mintToken(key, claimsFor('admin', 'x', { issuedAt: now - 7200, ttlSeconds: 3600 })),
      tampered: `${h}.${forged}.${s}`,
      'wrong issuer': await mintToken(key, claimsFor('admin', 'x', { issuer: 'https://elsewhere.example' })),
      'wrong audience': await mintToken(key, claimsFor('admin', 'x', { audience: 'another-api' })),
      'alg none': new UnsecuredJWT({ roles: ['admin'] }).setSubject('x').setIssuer('restaurant-local').setAudience('restaurant').setExpirationTime('1h').encode(),
      'system role': await mintToken(key, { subject: 'x', roles: ['system'] }),
    };
    const before = await commandTopicEnds();
    for (const [what, token] of Object.entries(tokens)) {
      for (const [base, method, path] of [[gateway, 'POST', '/orders/o-1/confirm'], [query, 'GET', '/menu']] as const) {
        const reply = await call(base, method, path, method === 'POST' ? {} : undefined, { authorization: `Bearer ${token}` });
        expect({ what, path, status: reply.status }).toEqual({ what, path, status: 401 });
        expect(reply.headers.get('www-authenticate')).toMatch(/^Bearer realm="restaurant", error="invalid_token"/);
      }
    }
    const anonymous = await call(query, 'GET', '/menu', undefined, { authorization: '' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="restaurant"');
    expect(await commandTopicEnds()).toBe(before);
    // Health stays open.
    expect((await fetch(`${gateway}/healthz`)).status).toBe(200);
    expect((await fetch(`${query}/readyz`)).status).toBe(200);
  });
});

describe('an OIDC provider’s JWKS URL', () => {
  it("accepts the provider's tokens (roles at realm_access.roles), refuses the local key's, and fetches the keys once", async () => {
    const idp = await generateSigningKey('RS256');
    let fetches = 0;
    const server = http.createServer((req, res) => {
      if (req.url !== '/certs') {
        res.writeHead(404).end();
        return;
      }
      fetches += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(idp.jwks));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const issuer = 'https://idp.example/realms/restaurant';
    let oidcGateway: RoleProcess | undefined;
    try {
      oidcGateway = await startRole('gateway', {
        ...env,
        AUTH_JWKS_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/certs`,
        AUTH_ISSUER: issuer,
        AUTH_AUDIENCE: 'restaurant-api',
        AUTH_ROLES_CLAIM: 'realm_access.roles',
      });
      const token = await mintToken(idp, { subject: 'idp-manager', roles: ['manager', 'offline_access'], issuer, audience: 'restaurant-api', rolesClaim: ['realm_access', 'roles'] });
      for (let i = 0; i < 5; i += 1) {
        const reply = await call(oidcGateway.url, 'POST', `/menu/items/${menuItemId}/price`, { price: { amountMinor: 800 + i, currency: 'EUR' } }, { authorization: `Bearer ${token}` });
        expect(reply.status).toBe(200);
      }
      const local = await call(oidcGateway.url, 'POST', `/menu/items/${menuItemId}/price`, { price: { amountMinor: 900, currency: 'EUR' } }, headers('manager'));
      expect(local.status).toBe(401);
      // One fetch for the first token; an unknown key id (the local token's) may cause one more.
      expect(fetches).toBeGreaterThanOrEqual(1);
      expect(fetches).toBeLessThanOrEqual(2);
    } finally {
      await oidcGateway?.stop();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

