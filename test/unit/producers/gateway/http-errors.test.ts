// Statuses other than 2xx/400: body handling (413, 415, malformed JSON), unknown
// routes and methods, domain rejections, pending replies, an unavailable bus and
// unexpected failures. Every refusal made by the gateway itself sends nothing.
import { pending, rejected, startGateway, TIRAMISU, unavailableResponder, type GatewayHarness } from '../../../support/gateway';

let gw: GatewayHarness;
beforeEach(async () => {
  gw = await startGateway();
});
afterEach(async () => {
  await gw.close();
});

const errorOf = (body: unknown) => (body as { error: { code: string; message: string } }).error;

describe('request bodies', () => {
  it('413 payload_too_large for a 10 MB body, without reading it into a command', async () => {
    const res = await gw.request('POST', '/orders', { raw: JSON.stringify({ customerId: 'c-1', pad: 'x'.repeat(10 * 1024 * 1024) }), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(413);
    expect(errorOf(res.body).code).toBe('payload_too_large');
    expect(gw.bus.sent).toEqual([]);
  });

  it('honours a configured body limit', async () => {
    const small = await startGateway({ limits: { maxBodyBytes: 100 } });
    try {
      const res = await small.post('/customers/c-1/name', { name: 'x'.repeat(120) });
      expect(res.status).toBe(413);
      expect(small.bus.sent).toEqual([]);
    } finally {
      await small.close();
    }
  });

  it.each([
    ['truncated', '{"name":'],
    ['single-quoted', "{'name':'Ada'}"],
    ['trailing comma', '{"name":"Ada",}'],
    ['a bare string (strict mode)', '"Ada"'],
    ['null (strict mode)', 'null'],
  ])('400 malformed_json for %s JSON', async (_what, text) => {
    const res = await gw.request('POST', '/customers/c-1/name', { raw: text, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: 'malformed_json', message: expect.any(String) } });
    expect(gw.bus.sent).toEqual([]);
  });

  it.each([
    ['text/plain', '{"name":"Ada"}'],
    ['application/x-www-form-urlencoded', 'name=Ada'],
    ['multipart/form-data; boundary=x', '--x--'],
  ])('415 unsupported_media_type for %s', async (type, raw) => {
    const res = await gw.request('POST', '/customers/c-1/name', { raw, headers: { 'content-type': type } });
    expect(res.status).toBe(415);
    expect(errorOf(res.body).code).toBe('unsupported_media_type');
    expect(gw.bus.sent).toEqual([]);
  });

  it('415 when a body is required and none is sent', async () => {
    const res = await gw.request('POST', '/customers/c-1/name');
    expect(res.status).toBe(415);
    expect(errorOf(res.body).code).toBe('unsupported_media_type');
    expect(gw.bus.sent).toEqual([]);
  });

  it('415 for bytes without any Content-Type', async () => {
    const res = await gw.request('POST', '/customers/c-1/name', { raw: new TextEncoder().encode('{"name":"Ada"}') });
    expect(res.status).toBe(415);
    expect(gw.bus.sent).toEqual([]);
  });

  it('415 for a non-JSON body on a route that takes no body', async () => {
    const res = await gw.request('POST', '/orders/o-1/place', { raw: 'now', headers: { 'content-type': 'text/plain' } });
    expect(res.status).toBe(415);
    expect(gw.bus.sent).toEqual([]);
  });

  it('415 for a charset other than UTF-8', async () => {
    const res = await gw.request('POST', '/customers/c-1/name', { raw: '{"name":"Ada"}', headers: { 'content-type': 'application/json; charset=latin1' } });
    expect(res.status).toBe(415);
    expect(gw.bus.sent).toEqual([]);
  });

  it('accepts application/json with a utf-8 charset and +json types', async () => {
    expect((await gw.request('POST', '/customers/c-1/name', { raw: '{"name":"Ada"}', headers: { 'content-type': 'application/json; charset=utf-8' } })).status).toBe(200);
    expect((await gw.request('POST', '/customers/c-1/name', { raw: '{"name":"Ada"}', headers: { 'content-type': 'application/merge-patch+json' } })).status).toBe(200);
  });
});

describe('routing', () => {
  it.each([
    ['GET', '/'],
    ['POST', '/orders/o-1/teleport'],
    ['POST', '/kitchen'],
    ['DELETE', '/nowhere'],
  ])('404 route_not_found for %s %s', async (method, path) => {
    const res = await gw.request(method, path);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'route_not_found', message: expect.any(String) } });
    expect(gw.bus.sent).toEqual([]);
  });

  it('405 with Allow for a known path and another method', async () => {
    const res = await gw.request('GET', '/orders/o-1/place');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(errorOf(res.body).code).toBe('method_not_allowed');
    const del = await gw.request('DELETE', '/commands/c-1');
    expect(del.status).toBe(405);
    expect(del.headers.get('allow')).toBe('GET, HEAD');
    expect(gw.bus.sent).toEqual([]);
  });
});

describe('domain rejections', () => {
  it('404 for a *_not_found code, with the command and aggregate ids', async () => {
    gw.bus.on('PlaceOrder', (e) => rejected(e, 'order_not_found', 0));
    const res = await gw.post('/orders/o-404/place');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'order_not_found', message: 'rejected: order_not_found' }, commandId: 'id-1', aggregateId: 'o-404' });
  });

  it('403 for a forbidden rejection (the decider\'s role or ownership check), without an ETag', async () => {
    gw.bus.on('PlaceOrder', (e) => rejected(e, 'forbidden', 0));
    const res = await gw.post('/orders/o-1/place');
    expect(res.status).toBe(403);
    expect(res.headers.get('etag')).toBeNull();
    expect(res.body).toEqual({ error: { code: 'forbidden', message: 'rejected: forbidden' }, commandId: 'id-1', aggregateId: 'o-1' });
  });

  it('409 for a business rule, with the current version as ETag', async () => {
    gw.bus.on('PlaceOrder', (e) => rejected(e, 'empty_order', 3));
    const res = await gw.post('/orders/o-1/place');
    expect(res.status).toBe(409);
    expect(res.headers.get('etag')).toBe('"3"');
    expect(res.body).toEqual({ error: { code: 'empty_order', message: 'rejected: empty_order' }, commandId: 'id-1', aggregateId: 'o-1' });
  });

  it('409 version_conflict when If-Match lost', async () => {
    gw.bus.on('ConfirmOrder', (e) => rejected(e, 'version_conflict', 5));
    const res = await gw.post('/orders/o-1/confirm', undefined, { 'if-match': '"4"' });
    expect(res.status).toBe(409);
    expect(errorOf(res.body).code).toBe('version_conflict');
    expect(res.headers.get('etag')).toBe('"5"');
  });

  it('404 menu_item_not_found for an item the menu does not have, sending nothing', async () => {
    const res = await gw.post('/orders/o-1/items', { menuItemId: 'unicorn-steak', quantity: 1 });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'menu_item_not_found', message: expect.any(String) } });
    expect(gw.bus.sent).toEqual([]);
  });

  it('409 menu_item_sold_out for a sold-out item, sending nothing', async () => {
    const res = await gw.post('/orders/o-1/items', { menuItemId: TIRAMISU.menuItemId, quantity: 1 });
    expect(res.status).toBe(409);
    expect(errorOf(res.body).code).toBe('menu_item_sold_out');
    expect(gw.bus.sent).toEqual([]);
  });
});

describe('no reply in time', () => {
  it('202 with a status URL to poll', async () => {
    gw.bus.on('OpenOrder', pending);
    const res = await gw.post('/orders', { customerId: 'c-1' });
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe('/commands/id-1');
    expect(res.body).toEqual({ commandId: 'id-1', aggregateId: 'id-2', status: 'pending', statusUrl: '/commands/id-1' });
  });
});

describe('GET /commands/:commandId', () => {
  it('200 with the outcome once the gateway has seen it', async () => {
    await gw.post('/orders/o-1/place');
    const res = await gw.request('GET', '/commands/id-1');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'accepted', commandId: 'id-1', commandType: 'PlaceOrder', aggregateId: 'o-1', aggregateVersion: 1 });
  });

  it('404 command_not_found when unknown', async () => {
    const res = await gw.request('GET', '/commands/never-sent');
    expect(res.status).toBe(404);
    expect(errorOf(res.body).code).toBe('command_not_found');
  });

  it('400 for an id that cannot be one', async () => {
    const res = await gw.request('GET', `/commands/${'c'.repeat(129)}`);
    expect(res.status).toBe(400);
  });
});

describe('infrastructure failures', () => {
  it('503 unavailable with Retry-After when the bus cannot take the command', async () => {
    gw.bus.on('*', unavailableResponder);
    const res = await gw.post('/orders/o-1/place');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(res.body).toEqual({ error: { code: 'unavailable', message: expect.any(String) }, commandId: 'id-1' });
    expect(res.text).not.toContain('ECONNREFUSED');
  });

  it('503 when the menu read model is down (a retriable error)', async () => {
    gw.menu.quote = () => Promise.reject(Object.assign(new Error('redis: connection lost'), { retriable: true }));
    const res = await gw.post('/orders/o-1/items', { menuItemId: 'pizza-margherita', quantity: 1 });
    expect(res.status).toBe(503);
    expect(gw.bus.sent).toEqual([]);
  });

  it('500 internal without leaking the error, which is logged', async () => {
    gw.bus.on('*', () => {
      throw new TypeError('secret stack detail: cannot read properties of undefined');
    });
    const res = await gw.post('/orders/o-1/place');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: { code: 'internal', message: expect.any(String) }, commandId: 'id-1' });
    expect(res.text).not.toContain('secret');
    expect(gw.logger.entries).toEqual([
      expect.objectContaining({ level: 'error', details: expect.objectContaining({ commandId: 'id-1', error: expect.objectContaining({ message: expect.stringContaining('secret') }) }) }),
    ]);
  });

  it('500 when polling an outcome fails unexpectedly', async () => {
    gw.bus.outcome = () => Promise.reject(new Error('boom'));
    const res = await gw.request('GET', '/commands/c-1');
    expect(res.status).toBe(500);
    expect(res.text).not.toContain('boom');
  });
});
