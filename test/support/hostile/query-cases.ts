// Hostile requests for the query API: hostile path segments, empty, repeated
// or absurd parameters, and consistency tokens that are malformed or name
// topics or partitions that do not exist (docs/read-side.md, "Hostile input").
// Reads never write; what matters here is that none gets a 5xx or a reset, and
// none waits: every generated token is one the API must refuse at once.
import fc from 'fast-check';
import { config } from '../../../infra/config';
import type { RawRequest } from '../raw-http';
import { hostileSegment, noiseHeaders, notHttp, type Header, type HostileCase } from './common';

/** Partitions per topic in the stack the test runs against. */
const PARTITIONS = config().topics.partitions;
const MODEL_TOPICS = ['restaurant.order.events', 'restaurant.menu.events', 'restaurant.customer.events'];

const b64url = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');

/** A token the API must refuse without waiting: malformed, or naming a position that cannot exist. */
export const refusedToken: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', '!', 'a b', '%ff', 'e30=', b64url('[]'), b64url('null'), b64url('{"a":1}'), b64url('{"t":{"x":1}}'), b64url('{"t":{"0":-1}}'), b64url('{"t":{"0":1.5}}'), b64url('{"t":{"1234567":1}}')),
  fc.integer({ min: 4_097, max: 6_000 }).map((n) => 'A'.repeat(n)),
  fc.string({ maxLength: 60 }).map(b64url),
  // well-formed, but one position is on a partition or topic that does not exist
  fc
    .tuple(
      fc.array(fc.tuple(fc.constantFrom(...MODEL_TOPICS), fc.integer({ min: 0, max: PARTITIONS - 1 }), fc.nat()), { maxLength: 3 }),
      fc.oneof(
        fc.tuple(fc.constantFrom(...MODEL_TOPICS), fc.integer({ min: PARTITIONS, max: 999_999 })),
        fc.tuple(fc.constantFrom('__proto__', 'constructor', 'no.such.topic', '', 'restaurant.order.events.dlq2'), fc.integer({ min: 0, max: 5 })),
        fc.tuple(fc.string({ minLength: 1, maxLength: 30 }).map((t) => `x${t}`), fc.nat({ max: 999_999 })),
      ),
      fc.nat(),
    )
    .map(([existing, [topic, partition], offset]) => {
      const positions: Record<string, Record<string, number>> = {};
      for (const [t, p, o] of existing) (positions[t] ??= {})[String(p)] = o;
      const json = JSON.stringify(positions).slice(1, -1);
      const bad = `${JSON.stringify(topic)}:{${JSON.stringify(String(partition))}:${offset}}`;
      // the bad position last: JSON.parse keeps the last of two equal keys
      return b64url(`{${json === '' ? bad : `${json},${bad}`}}`);
    }),
);

const param = (name: string, value: string): string => `${name}=${value}`;
const hostileValue = fc.oneof(
  fc.constantFrom('', '0', '1', '20', '100', '101', '-1', '1.5', '1e3', '0x10', '%ff', '%00', '9'.repeat(40), ' 1', '1%20', '2025-01-01', '2025-02-30', '9999-12-31', '0000-01-01', '2025-01-01T00:00:00Z'),
  fc.string({ maxLength: 30 }).map((s) => encodeURIComponent(s)),
);
/** A query string: known and unknown names, empty, repeated, bracketed, and tokens. */
const queryString = fc
  .array(
    fc.oneof(
      fc.tuple(fc.constantFrom('offset', 'limit', 'from', 'to', 'limit[]', 'offset[0]', '__proto__', 'x'), hostileValue).map(([n, v]) => param(n, v)),
      refusedToken.map((t) => param('consistency', t)),
      fc.constantFrom('limit', 'offset=', '&&', '=', '%ff=1', 'a=%', 'from=2025-01-01&to=2024-01-01', 'from=2000-01-01&to=2030-01-01'),
    ),
    { maxLength: 5 },
  )
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.join('&')}`));
/** Often no query string at all, so the hostile path itself gets through to Redis. */
const maybeQueryString = fc.oneof(fc.constant(''), queryString);

const path = fc.oneof(
  fc.constantFrom('/menu', '/kitchen/queue', '/courier/queue', '/stats/sales', '/stats/items', '//menu', '/menu/', '/MENU', '/menu/../orders', '*', 'http://evil.example/menu', '/%2e%2e/menu', '/healthz/../menu'),
  hostileSegment.map((s) => `/customers/${s}`),
  hostileSegment.map((s) => `/customers/${s}/orders`),
  hostileSegment.map((s) => `/orders/${s}`),
  // Live streams of things that do not exist: refused before a stream opens, like their GETs.
  hostileSegment.map((s) => `/live/orders/${s}`),
  hostileSegment.map((s) => `/live/customers/${s}/orders`),
  fc.array(hostileSegment, { minLength: 1, maxLength: 4 }).map((segments) => `/${segments.join('/')}`),
);

const method = fc.oneof({ weight: 6, arbitrary: fc.constant('GET') }, fc.constantFrom('HEAD', 'OPTIONS', 'POST', 'PUT', 'DELETE', 'TRACE', 'PROPFIND', 'CONNECT', 'get'));

const query: fc.Arbitrary<RawRequest> = fc
  .tuple(method, path, maybeQueryString, fc.option(refusedToken.map((t): Header => ['X-Consistency-Token', t])), fc.option(fc.string({ maxLength: 100 })))
  .map(([m, p, q, tokenHeader, body]) => ({
    method: m,
    target: `${p}${q}`,
    headers: tokenHeader === null ? [] : [tokenHeader],
    body: Buffer.from(body ?? '', 'utf8'),
    framing: body === null ? 'none' : 'length',
  }));

/** One hostile query API request, with noise headers. */
export const queryCase: fc.Arbitrary<HostileCase> = fc.oneof(
  { weight: 12, arbitrary: fc.tuple(query, noiseHeaders).map(([request, noise]): HostileCase => ({ api: 'query', defect: 'query', request: { ...request, headers: [...noise, ...request.headers] } })) },
  { weight: 1, arbitrary: notHttp.map((request): HostileCase => ({ api: 'query', defect: 'not HTTP at all', request })) },
);
