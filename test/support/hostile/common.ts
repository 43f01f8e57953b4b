// Generators shared by the hostile gateway and query API requests: the
// headers that ride along with any request (Authorization, correlation ids,
// junk), path segments an attacker would try, and requests that are not HTTP.
import fc from 'fast-check';
import type { RawRequest } from '../raw-http';

export type Header = readonly [string, string];

/** A generated request and the defect that makes it hostile (for the failure message and the tally). */
export interface HostileCase {
  readonly api: 'gateway' | 'query';
  readonly defect: string;
  readonly request: RawRequest;
}

/** Strings as they go on the wire: one byte per character (latin1). */
export const latin1 = (s: string): string => Buffer.from(s, 'latin1').toString('latin1');

const b64url = (s: string): string => Buffer.from(s, 'utf8').toString('base64url');

/** Values of an Authorization header no authentication should accept. */
export const hostileAuthorization: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('Bearer', 'Bearer ', 'bearer x', 'Basic YWRtaW46YWRtaW4=', 'Bearer null', 'Bearer undefined', 'Bearer ..', 'Bearer a.b.c', 'Digest x', 'Bearer\tx'),
  // alg:none and forged-looking tokens
  fc.record({ sub: fc.string({ maxLength: 20 }), exp: fc.integer(), admin: fc.boolean() }).map(
    (claims) => `Bearer ${b64url('{"alg":"none","typ":"JWT"}')}.${b64url(JSON.stringify(claims))}.`,
  ),
  fc.tuple(fc.constantFrom('HS256', 'RS256', 'none', 'NONE', ''), fc.base64String({ maxLength: 60 })).map(
    ([alg, sig]) => `Bearer ${b64url(JSON.stringify({ alg, typ: 'JWT', kid: '../../etc/passwd' }))}.${b64url('{"sub":"admin","exp":99999999999}')}.${sig}`,
  ),
  fc.integer({ min: 4_000, max: 12_000 }).map((n) => `Bearer ${'A'.repeat(n)}`),
  fc.string({ maxLength: 200 }).map((s) => `Bearer ${latin1(s).replace(/[\r\n\0]/g, '')}`),
);

/** Headers that may ride along with any hostile request; none of them makes a refused request acceptable. */
export const noiseHeaders: fc.Arbitrary<Header[]> = fc
  .array(
    fc.oneof(
      hostileAuthorization.map((v): Header => ['Authorization', v]),
      fc.string({ maxLength: 300 }).map((v): Header => ['X-Correlation-Id', latin1(v).replace(/[\r\n\0]/g, '')]),
      fc.constantFrom<Header>(['Accept', '*/*;q=abc'], ['Accept-Encoding', 'gzip;q=1e999'], ['Connection', 'close'], ['Connection', 'keep-alive, Upgrade'], ['Upgrade', 'h2c'], ['Cookie', '__proto__=1; constructor=2'], ['X-Forwarded-For', '999.999.999.999, ::ffff']),
      fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,30}$/), fc.string({ maxLength: 100 })).map(([n, v]): Header => [`X-${n}`, latin1(v).replace(/[\r\n\0]/g, '')]),
    ),
    { maxLength: 4 },
  )
  // sometimes the same header twice
  .chain((headers) => fc.boolean().map((twice) => (twice && headers[0] ? [...headers, headers[0]] : headers)));

/** An id-like path segment an attacker would try (already percent-encoded where it needs to be). */
export const hostileSegment: fc.Arbitrary<string> = fc.oneof(
  fc.stringMatching(/^[a-z0-9-]{1,24}$/),
  fc.constantFrom('%ff', '%E0%A4%A', '%', '%zz', '%c3%28', '%ed%a0%80', '%00', '%0a', '%7f', '%2F', '%2e%2e', '..', '%25', '__proto__', 'constructor', '%F0%9F%92%A9'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).map((s) => encodeURIComponent(s)),
  fc.integer({ min: 129, max: 4_000 }).map((n) => 'x'.repeat(n)),
  fc.tuple(fc.stringMatching(/^[a-z]{0,5}$/), fc.constantFrom('%', '%f', '%g0', '%ff%fe')).map(([a, b]) => a + b),
);

/** Bytes that are not an HTTP request (terminated, so the server does not wait for more). */
export const notHttp: fc.Arbitrary<RawRequest> = fc
  .oneof(
    // Empty lines before a request line are allowed (RFC 9112 §2.2): a server rightly waits after them.
    fc.uint8Array({ minLength: 1, maxLength: 200 }).filter((bytes) => bytes.some((b) => b !== 0x0d && b !== 0x0a)).map((bytes) => Buffer.from(bytes)),
    fc.constantFrom('PRI * HTTP/2.0\r\n\r\nSM', 'GET / HTTP/9.9', 'GET /menu HTTP/1.1\nHost: x\nX: a\rb', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03').map((s) => Buffer.from(s, 'latin1')),
  )
  .map((bytes) => ({ method: '', target: '', headers: [], body: Buffer.alloc(0), framing: 'none', raw: Buffer.concat([bytes, Buffer.from('\r\n\r\n')]) }));
