// Requests the gateway refuses with 400 before anything reaches the bus: every
// field problem is listed, and the bus sees zero sends.
import { startGateway, type GatewayHarness, type TestResponse } from '../../support/gateway';

let gw: GatewayHarness;
beforeEach(async () => {
  gw = await startGateway();
});
afterEach(async () => {
  await gw.close();
});

const VALID_ITEM = { name: 'Pizza', description: '', category: 'MAIN', price: { amountMinor: 1250, currency: 'EUR' } };

/** Posts raw JSON text, so keys like __proto__ reach the parser exactly as written. */
const postRaw = (path: string, text: string): Promise<TestResponse> => gw.request('POST', path, { raw: text, headers: { 'content-type': 'application/json' } });

function expectInvalid(res: TestResponse, fields: readonly string[]): void {
  expect(res.status).toBe(400);
  expect(res.body).toEqual({
    error: { code: 'invalid_request', message: expect.any(String), fields: expect.any(Array) },
  });
  const listed = (res.body as { error: { fields: { field: string; message: string }[] } }).error.fields;
  expect(listed.map((f) => f.field).sort()).toEqual([...fields].sort());
  for (const f of listed) expect(f.message).toMatch(/\S/);
  expect(gw.bus.sent).toEqual([]);
}

describe('400 invalid_request', () => {
  it('lists every problem at once, with dotted field paths', async () => {
    const res = await gw.post('/menu/items', { name: '', category: 'UNKNOWN', price: { amountMinor: -1, currency: 'eur' }, colour: 'red' });
    expectInvalid(res, ['name', 'category', 'price.amountMinor', 'price.currency', 'colour']);
  });

  it('names missing required fields', async () => {
    expectInvalid(await gw.post('/menu/items', {}), ['name', 'category', 'price']);
    expectInvalid(await gw.post('/customers/c-1/addresses', { address: {} }), ['addressId', 'address.line1', 'address.city', 'address.postalCode', 'address.country']);
  });

  it.each([
    ['an array', '[]'],
    ['an array of one object', '[{"name":"Ada"}]'],
  ])('wants the body to be a JSON object, not %s', async (_what, text) => {
    expectInvalid(await postRaw('/customers/c-1/name', text), ['body']);
  });

  it.each([
    ['a string for a number', { quantity: '3' }, 'quantity'],
    ['a negative quantity', { quantity: -1 }, 'quantity'],
    ['a zero quantity', { quantity: 0 }, 'quantity'],
    ['a quantity above 99', { quantity: 100 }, 'quantity'],
    ['a fractional quantity', { quantity: 1.5 }, 'quantity'],
    ['a boolean quantity', { quantity: true }, 'quantity'],
    ['a number for an id', { menuItemId: 7 }, 'menuItemId'],
    ['an id with a space', { menuItemId: 'pizza margherita' }, 'menuItemId'],
    ['an id longer than 128 characters', { menuItemId: 'x'.repeat(129) }, 'menuItemId'],
  ])('refuses %s', async (_what, override, field) => {
    const res = await gw.post('/orders/o-1/items', { menuItemId: 'pizza-margherita', quantity: 2, ...override });
    expectInvalid(res, [field]);
    expect(gw.menu.asked).toEqual([]);
  });

  it.each([
    ['an overflowing number (1e400 parses to Infinity)', '1e400'],
    ['a number beyond the safe integer range', '9007199254740993'],
    ['a negative amount', '-1'],
    ['a zero amount', '0'],
    ['a fractional amount', '12.5'],
    ['a numeric string', '"1250"'],
    ['null', 'null'],
  ])('refuses %s as price.amountMinor', async (_what, amount) => {
    const res = await postRaw('/menu/items/m-1/price', `{"price":{"amountMinor":${amount},"currency":"EUR"}}`);
    expectInvalid(res, ['price.amountMinor']);
  });

  it.each(['eur', 'EURO', 'E1R', ''])('refuses currency %p', async (currency) => {
    expectInvalid(await gw.post('/menu/items/m-1/price', { price: { amountMinor: 100, currency } }), ['price.currency']);
  });

  it('refuses unknown fields inside nested objects too', async () => {
    expectInvalid(await gw.post('/menu/items/m-1/price', { price: { amountMinor: 100, currency: 'EUR', vat: 21 } }), ['price.vat']);
  });

  it('refuses a client-sent price on AddItemToOrder as an unknown field, without asking the menu', async () => {
    const res = await gw.post('/orders/o-1/items', { menuItemId: 'pizza-margherita', quantity: 1, unitPrice: { amountMinor: 1, currency: 'EUR' } });
    expectInvalid(res, ['unitPrice']);
    expect(gw.menu.asked).toEqual([]);
  });

  it.each(['__proto__', 'constructor', 'prototype'])('refuses the key %s explicitly', async (key) => {
    const res = await postRaw('/customers/c-1/name', `{"name":"Ada","${key}":{"isAdmin":true}}`);
    expectInvalid(res, [key]);
    const fields = (res.body as { error: { fields: { message: string }[] } }).error.fields;
    expect(fields[0]?.message).toContain('not allowed');
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it('refuses __proto__ inside a nested object', async () => {
    expectInvalid(await postRaw('/menu/items/m-1/price', '{"price":{"amountMinor":100,"currency":"EUR","__proto__":{"x":1}}}'), ['price.__proto__']);
  });

  it('refuses the UNKNOWN category default and categories in the wrong case', async () => {
    expectInvalid(await gw.post('/menu/items', { ...VALID_ITEM, category: 'UNKNOWN' }), ['category']);
    expectInvalid(await gw.post('/menu/items', { ...VALID_ITEM, category: 'main' }), ['category']);
  });

  it('refuses text that is too long, counting after trimming', async () => {
    expectInvalid(await gw.post('/menu/items', { ...VALID_ITEM, name: 'x'.repeat(101), description: 'y'.repeat(501) }), ['name', 'description']);
    expect((await gw.post('/menu/items', { ...VALID_ITEM, name: ` ${'x'.repeat(100)} ` })).status).toBe(201);
  });

  it('refuses an invalid email and a blank name on sign-up', async () => {
    expectInvalid(await gw.post('/customers', { name: '   ', email: 'not-an-email' }), ['name', 'email']);
  });

  it('refuses invalid addresses field by field', async () => {
    const res = await gw.post('/orders/o-1/delivery-address', { address: { line1: '', city: 'Amsterdam', postalCode: '1015', country: 'nl', line2: 5 } });
    expectInvalid(res, ['address.line1', 'address.country', 'address.line2']);
  });

  it('refuses a body on a route that takes none', async () => {
    expectInvalid(await gw.post('/orders/o-1/place', { now: true }), ['now']);
    expectInvalid(await postRaw('/orders/o-1/place', '[]'), ['body']);
  });

  it('refuses a reason that is missing or blank', async () => {
    expectInvalid(await gw.post('/orders/o-1/cancel', {}), ['reason']);
    expectInvalid(await gw.post('/orders/o-1/reject', { reason: ' ' }), ['reason']);
  });

  it('validates route params as ids (whitespace, length) together with the body', async () => {
    const res = await gw.post(`/orders/${encodeURIComponent('order 1')}/cancel`, { reason: 7 });
    expectInvalid(res, ['path.orderId', 'reason']);
    expectInvalid(await gw.post(`/menu/items/${'m'.repeat(129)}/remove`), ['path.menuItemId']);
    expectInvalid(await gw.post('/customers/c-1/addresses/%09tab/remove'), ['path.addressId']);
  });
});

describe('unicode', () => {
  it.each([
    ['accents', 'Crème brûlée'],
    ['CJK', '日本の抹茶'],
    ['emoji (surrogate pairs)', 'Pizza 🍕🔥'],
    ['combining marks', 'Cafe\u0301'],
    ['right-to-left script', 'فلافل'],
  ])('accepts %s in names', async (_what, name) => {
    const res = await gw.post('/menu/items', { ...VALID_ITEM, name });
    expect(res.status).toBe(201);
    expect(gw.bus.sent[0]?.command).toMatchObject({ data: { name } });
  });

  it.each([
    ['NUL', 'Ada\\u0000'],
    ['BEL', 'Ada\\u0007Lovelace'],
    ['ESC', '\\u001b[31mAda'],
    ['DEL', 'Ada\\u007f'],
    ['a C1 control', 'Ada\\u0085Lovelace'],
    ['a newline inside', 'Ada\\nLovelace'],
    ['a tab inside', 'Ada\\tLovelace'],
    ['a lone high surrogate', 'Ada\\ud83d'],
    ['a lone low surrogate', '\\udc00Ada'],
  ])('refuses %s in a name', async (_what, escaped) => {
    expectInvalid(await postRaw('/customers/c-1/name', `{"name":"${escaped}"}`), ['name']);
  });

  it('trims ordinary surrounding whitespace, newlines included', async () => {
    await postRaw('/customers/c-1/name', '{"name":"\\n\\t Ada Lovelace \\r\\n"}');
    expect(gw.bus.sent[0]?.command).toEqual({ type: 'ChangeCustomerName', data: { name: 'Ada Lovelace' } });
  });

  it('refuses control characters in emails and ids, which have no text rule of their own for them', async () => {
    expectInvalid(await postRaw('/customers', '{"name":"Ada","email":"ada\\u0001@example.com"}'), ['email']);
    expectInvalid(await postRaw('/orders', '{"customerId":"c\\u0085-1"}'), ['customerId']);
  });
});
