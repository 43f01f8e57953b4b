// Requests of the right shape whose values are as odd as the rules allow:
// emoji, RTL and zero-width text at the length limits, ids with `:` and
// percent-encoded `/`, prices at the safe-integer limit, correlation ids and
// Idempotency-Keys of every printable character. The gateway may accept them
// (and then writes, so they are kept out of the no-write check), reject them
// by a business rule (404/409) or refuse them (400): never a 5xx.
import fc from 'fast-check';
import type { RawRequest } from '../raw-http';
import { hostileAuthorization, type Header } from './common';

const text = (max: number): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: max }),
    fc.constantFrom('\u202eevil\u202c', 'a\u200bb', 'Zoë 🍕', '日本語', 'مرحبا', '  padded  ', 'x'.repeat(max), '🍕'.repeat(Math.floor(max / 2))),
  );
const id = fc.oneof(fc.stringMatching(/^[A-Za-z0-9:._~-]{1,128}$/), fc.constantFrom('a%2Fb', '%E2%9C%93', 'o:reserve', '__proto__', 'constructor', 'x'.repeat(128)));
const money = fc.record({ amountMinor: fc.oneof(fc.integer({ min: 1, max: 10_000 }), fc.constant(Number.MAX_SAFE_INTEGER)), currency: fc.constantFrom('EUR', 'USD', 'XXX', 'ZZZ') });

const routes: ReadonlyArray<fc.Arbitrary<{ readonly path: string; readonly body: unknown }>> = [
  fc.tuple(text(100), fc.emailAddress()).map(([name, email]) => ({ path: '/customers', body: { name, email } })),
  fc.tuple(id, text(100)).map(([customer, name]) => ({ path: `/customers/${customer}/name`, body: { name } })),
  fc.tuple(text(100), text(500), fc.constantFrom('STARTER', 'MAIN', 'SIDE', 'DESSERT', 'DRINK'), money).map(([name, description, category, price]) => ({ path: '/menu/items', body: { name, description, category, price } })),
  fc.tuple(id, money).map(([item, price]) => ({ path: `/menu/items/${item}/price`, body: { price } })),
  id.map((customerId) => ({ path: '/orders', body: { customerId } })),
  fc.tuple(id, id, fc.integer({ min: 1, max: 99 })).map(([order, menuItemId, quantity]) => ({ path: `/orders/${order}/items`, body: { menuItemId, quantity } })),
  fc.tuple(id, text(500)).map(([order, reason]) => ({ path: `/orders/${order}/cancel`, body: { reason } })),
  id.map((order) => ({ path: `/orders/${order}/place`, body: {} })),
];

const printable = fc.stringMatching(/^[\x21-\x7e]{1,128}$/);
const ifMatch = fc.oneof(
  fc.constantFrom('0', '"1"', '9007199254740990', '"9007199254740991"', '9999999999999999'),
  fc.nat().map((n) => String(n)),
);

/**
 * A well-formed command request with odd values; headers are optional extras.
 * One in five carries a forged Authorization of its own (401); the rest get a
 * valid token from the test, so their values reach validation and the deciders.
 */
export const acceptableShapeRequest: fc.Arbitrary<RawRequest> = fc
  .tuple(
    fc.oneof(...routes),
    fc.option(printable),
    fc.option(printable),
    fc.oneof({ arbitrary: fc.constant(null), weight: 4 }, { arbitrary: hostileAuthorization, weight: 1 }),
    fc.option(ifMatch),
  )
  .map(([{ path, body }, key, correlation, authorization, version]) => {
    const headers: Header[] = [['Content-Type', 'application/json']];
    if (key !== null) headers.push(['Idempotency-Key', key]);
    if (correlation !== null) headers.push(['X-Correlation-Id', correlation]);
    if (authorization !== null) headers.push(['Authorization', authorization]);
    if (version !== null) headers.push(['If-Match', version]);
    return { method: 'POST', target: path, headers, body: Buffer.from(JSON.stringify(body), 'utf8'), framing: 'length' };
  });
