// The pure half of the gateway, without HTTP: field readers, outcome → reply,
// and a guard that these modules stay free of express and of clocks.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { address, money, object, quantity, readBody, text, type FieldProblem } from '../../../../producers/gateway/request-fields';
import { outcomeReply, statusForRejection } from '../../../../producers/gateway/responses';
import { ROUTES, signUpEnvelopes } from '../../../../producers/gateway/routes';
import { MAX_EXACT_LONG, validatePersonName } from '../../../../schemas/validation';

function read<T>(reader: (v: unknown, f: string, p: FieldProblem[]) => T | undefined, value: unknown): { value: T | undefined; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  return { value: readBody(reader, value, problems), problems };
}

describe('field readers', () => {
  it('money: accepts a positive whole amount in an ISO currency', () => {
    expect(read(money, { amountMinor: 1, currency: 'JPY' })).toEqual({ value: { amountMinor: 1, currency: 'JPY' }, problems: [] });
    // The largest integer an Avro long carries exactly (schemas/validation.ts MAX_EXACT_LONG), not MAX_SAFE_INTEGER.
    expect(read(money, { amountMinor: MAX_EXACT_LONG, currency: 'EUR' }).problems).toEqual([]);
    expect(read(money, { amountMinor: Number.MAX_SAFE_INTEGER, currency: 'EUR' }).problems.map((p) => p.field)).toEqual(['amountMinor']);
    expect(read(money, { amountMinor: Number.MAX_SAFE_INTEGER + 1, currency: 'EUR' }).problems.map((p) => p.field)).toEqual(['amountMinor']);
  });

  it('quantity: 1 to 99 inclusive', () => {
    expect([0, 1, 99, 100].map((q) => read(quantity, q).problems.length)).toEqual([1, 0, 0, 1]);
  });

  it('address: normalizes (trims, empty line2 → null) and names the field at fault', () => {
    expect(read(address, { line1: ' A 1 ', line2: '  ', city: 'B', postalCode: ' 1 ', country: 'NL' }).value).toEqual({ line1: 'A 1', line2: null, city: 'B', postalCode: '1', country: 'NL' });
    expect(read(address, { line1: 'A', city: '', postalCode: '1', country: 'NLD' }).problems.map((p) => p.field)).toEqual(['city', 'country']);
  });

  it('object: a top-level type problem is reported on "body"', () => {
    expect(read(object({ name: text(validatePersonName) }), 'Ada').problems).toEqual([{ field: 'body', message: 'must be a JSON object' }]);
  });

  it('object: returns nothing when any field fails, so a half-valid command is never built', () => {
    expect(read(object({ a: quantity, b: quantity }), { a: 1, b: 0 }).value).toBeUndefined();
  });
});

describe('outcome → reply', () => {
  const base = { commandId: 'c-1', commandType: 'PlaceOrder', aggregateId: 'o-1' };

  it.each([
    ['order_not_found', 404],
    ['address_not_found', 404],
    ['line_not_found', 404],
    ['version_conflict', 409],
    ['aggregate_parked', 409],
    ['order_not_open', 409],
    ['email_taken', 409],
    ['forbidden', 403],
  ])('rejection %s → %i', (code, status) => {
    expect(statusForRejection(code)).toBe(status);
  });

  it('forbidden → 403 with the code and ids, and no ETag (the version of what one may not act on is not told)', () => {
    const reply = outcomeReply({ ...base, status: 'rejected', code: 'forbidden', message: 'a customer may act only on their own orders', aggregateVersion: 0 });
    expect(reply).toEqual({
      status: 403,
      headers: {},
      body: { error: { code: 'forbidden', message: 'a customer may act only on their own orders' }, commandId: 'c-1', aggregateId: 'o-1' },
    });
  });

  it('accepted on a creation → 201 with Location and ETag', () => {
    const reply = outcomeReply({ ...base, status: 'accepted', aggregateVersion: 1, events: [] }, (id) => `/orders/${id}`);
    expect(reply).toEqual({ status: 201, headers: { ETag: '"1"', Location: '/orders/o-1' }, body: { commandId: 'c-1', aggregateId: 'o-1', aggregateVersion: 1, events: [] } });
  });

  it('accepted no-op → 200 with the unchanged version', () => {
    expect(outcomeReply({ ...base, status: 'accepted', aggregateVersion: 4, events: [] })).toMatchObject({ status: 200, headers: { ETag: '"4"' } });
  });
});

describe('signUpEnvelopes', () => {
  it('targets the normalized email for the reservation and keeps the email as typed (trimmed) for the customer', () => {
    const metadata = { commandId: 'c', aggregateId: 'cust', correlationId: 'corr', issuedAt: 1, expectedVersion: 2, actor: { subject: 'cust', roles: ['customer'] } };
    const e = signUpEnvelopes({ kind: 'sign-up', name: 'Ada', email: 'Ada@X.io' }, metadata);
    expect(e.reserve.metadata).toEqual({ ...metadata, commandId: 'c:reserve', aggregateId: 'ada@x.io', expectedVersion: null });
    expect(e.signUp).toEqual({ aggregate: 'customer', command: { type: 'SignUpCustomer', data: { name: 'Ada', email: 'Ada@X.io' } }, metadata: { ...metadata, commandId: 'c:signup' } });
    expect(e.release.command).toEqual({ type: 'ReleaseEmail', data: { customerId: 'cust' } });
  });
});

describe('routes (pure parse)', () => {
  it('parses without HTTP: params and body problems together', () => {
    const route = ROUTES.find((r) => r.path === '/orders/:orderId/cancel');
    const problems: FieldProblem[] = [];
    expect(route?.parse({ params: { orderId: '' }, body: { reason: '' } }, problems)).toBeUndefined();
    expect(problems.map((p) => p.field)).toEqual(['path.orderId', 'reason']);
  });
});

describe('purity', () => {
  const dir = path.join(__dirname, '..', '..', '..', '..', 'producers', 'gateway');
  it.each(['request-fields.ts', 'request-metadata.ts', 'routes.ts', 'responses.ts'])('%s imports no express/kafka and reads no clock or randomness', (file) => {
    const source = readFileSync(path.join(dir, file), 'utf8');
    expect(source).not.toMatch(/from '(express|kafkajs|ioredis|pino|prom-client)'/);
    expect(source).not.toMatch(/Date\.now|new Date\(|Math\.random|randomUUID|process\.env/);
  });
});
