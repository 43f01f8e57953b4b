// Hostile requests for the command gateway. Every one carries at least one
// defect that must get it refused (docs/gateway.md, "Hostile input"), so none
// of them may write to Kafka: the fuzz test checks that with the topics' end
// offsets. Noise (Authorization, junk headers, duplicates) rides along.
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { ROUTES, type GatewayRoute } from '../../../producers/gateway/routes';
import type { RawRequest } from '../raw-http';
import { hostileSegment, latin1, noiseHeaders, notHttp, type Header, type HostileCase } from './common';

const JSON_TYPE: Header = ['Content-Type', 'application/json'];
const withParams = ROUTES.filter((r) => r.path.includes(':'));

const id = fc.stringMatching(/^[a-z0-9-]{1,24}$/);
const fill = (route: GatewayRoute, segment: string): string => route.path.replace(/:[A-Za-z]+/g, segment);
/** A route with plausible ids in its params. */
const routePath = fc.tuple(fc.constantFrom(...ROUTES), id).map(([route, value]) => fill(route, value));

/** JSON texts of plausible-looking bodies (their validity does not matter: the defect decides). */
const jsonBody = fc.oneof(
  fc.constant('{}'),
  fc.dictionary(fc.constantFrom('name', 'email', 'customerId', 'menuItemId', 'quantity', 'reason', 'price', 'address', 'description', 'category'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }).map((o) => JSON.stringify(o)),
);

const post = (target: string, headers: Header[], body: string | Buffer, extra: Partial<RawRequest> = {}): RawRequest => ({
  method: 'POST',
  target,
  headers,
  body: typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
  framing: 'length',
  ...extra,
});

type Defect = fc.Arbitrary<{ readonly defect: string; readonly request: RawRequest }>;
const defect = (name: string, arb: fc.Arbitrary<RawRequest>): Defect => arb.map((request) => ({ defect: name, request }));

const defects: Defect[] = [
  defect(
    'path: malformed percent-encoding',
    fc.tuple(fc.constantFrom(...ROUTES), fc.constantFrom('%ff', '%E0%A4%A', '%', '%zz', '%c3%28', '%ed%a0%80', 'a%', '%%'), jsonBody).map(([route, bad, body]) =>
      post(route.path.includes(':') ? fill(route, bad) : `${route.path}/${bad}`, [JSON_TYPE], body),
    ),
  ),
  defect(
    'path: id with a control character, whitespace or too long',
    fc.tuple(fc.constantFrom(...withParams), fc.oneof(fc.constantFrom('%00', 'a%09b', '%0A', 'x%7F', 'a%20b', '%C2%85'), fc.integer({ min: 129, max: 3_000 }).map((n) => 'i'.repeat(n))), jsonBody).map(
      ([route, bad, body]) => post(fill(route, bad), [JSON_TYPE], body),
    ),
  ),
  defect(
    'body: forbidden or unknown key',
    fc.tuple(routePath, fc.constantFrom('__proto__', 'constructor', 'prototype', 'isAdmin', '$where', 'x-extra', ''), fc.jsonValue({ maxDepth: 3 }), jsonBody).map(([path, key, value, rest]) =>
      post(path, [JSON_TYPE], `{${JSON.stringify(key)}:${JSON.stringify(value) ?? 'null'}${rest === '{}' ? '' : `,${rest.slice(1, -1)}`}}`),
    ),
  ),
  defect(
    'body: deeply nested',
    fc.tuple(routePath, fc.integer({ min: 100, max: 30_000 }), fc.constantFrom('[', '{"a":')).map(([path, depth, open]) =>
      post(path, [JSON_TYPE], `{"name":${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}}`),
    ),
  ),
  defect(
    'body: not JSON, or JSON that is neither object nor array',
    fc.tuple(
      routePath,
      fc.oneof(
        fc.string({ minLength: 1, maxLength: 200 }).map((s) => `{${s},`),
        fc.string({ maxLength: 200 }).map((s) => `x${s}`),
        fc.oneof(fc.string(), fc.double(), fc.boolean(), fc.constant(null)).map((v) => JSON.stringify(v) ?? 'null'),
        jsonBody.map((text) => text.slice(0, -1)),
        fc.constantFrom(' ', '\t\r\n', "{'name':'Ada'}", '{"name":"Ada",}', '{"a":1e999999}x', '\u0000'),
      ),
    ).map(([path, text]) => post(path, [JSON_TYPE], text)),
  ),
  defect(
    'body: bytes that are not UTF-8',
    fc.tuple(routePath, fc.string({ maxLength: 20 }), fc.constantFrom([0xff], [0xfe], [0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf5, 0x80, 0x80, 0x80], [0xe9], [0xf0, 0x9f, 0x92])).map(([path, before, bad]) =>
      post(path, [JSON_TYPE], Buffer.concat([Buffer.from(`{"name":${JSON.stringify(before).slice(0, -1)}`), Buffer.from(bad), Buffer.from('"}')])),
    ),
  ),
  defect(
    'body: UTF-16 with a byte order mark',
    fc.tuple(routePath, jsonBody).map(([path, body]) => post(path, [JSON_TYPE], Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(body, 'utf16le')]))),
  ),
  defect(
    'Content-Type: a charset other than UTF-8',
    fc.tuple(routePath, fc.constantFrom('utf-16', 'UTF-16LE', 'utf-16be', 'utf-32', 'utf-7', 'utf8', 'latin1', 'iso-8859-1', 'us-ascii', 'cp1252', 'koi8-r', '"utf-16"', 'x-unknown'), jsonBody).map(([path, charset, body]) =>
      post(path, [['Content-Type', `application/json; charset=${charset}`]], charset.includes('16') ? Buffer.from(body, 'utf16le') : body),
    ),
  ),
  defect(
    'Content-Encoding: compressed, or not what the body is',
    fc.tuple(routePath, fc.constantFrom('gzip', 'x-gzip', 'deflate', 'br', 'compress', 'zstd', 'GZIP', 'gzip, identity', 'identity, gzip', 'identity, identity', 'aes128gcm'), fc.constantFrom('gzip', 'deflate', 'br', 'plain', 'garbage'), jsonBody).map(
      ([path, encoding, actual, body]) => {
        const bytes = Buffer.from(body);
        const encoded = { gzip: gzipSync(bytes), deflate: deflateSync(bytes), br: brotliCompressSync(bytes), plain: bytes, garbage: Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad]) }[actual];
        return post(path, [JSON_TYPE, ['Content-Encoding', encoding]], encoded);
      },
    ),
  ),
  defect(
    'Content-Type: not JSON, or none',
    fc.tuple(routePath, fc.constantFrom('text/plain', 'text/json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/jsonp', '*/*', 'application', 'json', ''), jsonBody, fc.boolean()).map(
      ([path, type, body, omit]) => post(path, omit ? [] : [['Content-Type', type]], body),
    ),
  ),
  defect(
    'Idempotency-Key: too long, not ASCII, or empty',
    fc.tuple(
      routePath,
      fc
        .oneof(fc.integer({ min: 129, max: 2_000 }).map((n) => 'k'.repeat(n)), fc.constantFrom('', '   ', 'clé', '\u00ff\u00fe'), fc.string({ maxLength: 20 }).map((s) => `${s}\u00e9`))
        .map((key) => latin1(key).replace(/[\r\n\0]/g, ''))
        // what node hands the gateway (trimmed) must break the 1-128 printable ASCII rule
        .filter((key) => !/^[\x20-\x7e]{1,128}$/.test(key.trim())),
      jsonBody,
    ).map(([path, key, body]) => post(path, [JSON_TYPE, ['Idempotency-Key', key]], body)),
  ),
  defect(
    'If-Match: not an aggregate version',
    fc.tuple(
      routePath,
      fc.oneof(
        fc.constantFrom('', 'W/"3"', '*', '-1', '"3", "4"', '1.5', 'abc', '"-1"', '99999999999999999', '1e3', '0x10', '"3', '3"', '""'),
        fc.string({ maxLength: 30 }).map((s) => latin1(s).replace(/[\r\n\0]/g, '')).filter((s) => !/^(?:"\d{1,16}"|\d{1,16})$/.test(s.trim())),
      ),
      jsonBody,
    ).map(([path, value, body]) => post(path, [JSON_TYPE, ['If-Match', value]], body)),
  ),
  defect(
    'method: not POST',
    fc.tuple(fc.oneof(routePath, hostileSegment.map((s) => `/commands/${s}`)), fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'MKCOL', 'LOCK', 'SEARCH', 'PURGE', 'M-SEARCH', 'post', 'CONNECT', 'BREW'), jsonBody).map(
      ([path, method, body]) => ({ ...post(path, [JSON_TYPE], body), method }),
    ),
  ),
  defect(
    'path: no such route',
    fc.tuple(fc.array(hostileSegment, { minLength: 1, maxLength: 4 }), jsonBody).map(([segments, body]) => post(`/zz-${segments.join('/')}`, [JSON_TYPE], body)),
  ),
  defect(
    'body: larger than the limit',
    fc.tuple(routePath, fc.integer({ min: 64 * 1024, max: 256 * 1024 })).map(([path, size]) => post(path, [JSON_TYPE], `{"name":"${'a'.repeat(size)}"}`)),
  ),
  defect(
    'Expect: something other than 100-continue',
    fc.tuple(routePath, fc.constantFrom('teapot', '200-ok', 'x')).map(([path, expect]) => post(path, [JSON_TYPE, ['Expect', expect]], '{}')),
  ),
  fc.tuple(
    routePath,
    fc.constantFrom<[string, Partial<RawRequest>]>(
      ['Content-Length: abc', { headers: [JSON_TYPE, ['Content-Length', 'abc']], framing: 'none' }],
      ['Content-Length: -1', { headers: [JSON_TYPE, ['Content-Length', '-1']], framing: 'none' }],
      ['two Content-Lengths', { headers: [JSON_TYPE, ['Content-Length', '2'], ['Content-Length', '3']], framing: 'none' }],
      ['Content-Length and chunked', { headers: [JSON_TYPE, ['Content-Length', '2']], framing: 'chunked' }],
      ['Content-Length beyond the body, then EOF', { headers: [JSON_TYPE, ['Content-Length', '1000']], framing: 'none', endAfterWrite: true }],
      ['broken chunk size', { headers: [JSON_TYPE, ['Transfer-Encoding', 'chunked']], framing: 'none', body: Buffer.from('zz\r\n{}\r\n0\r\n\r\n') }],
      ['chunk size overflow', { headers: [JSON_TYPE, ['Transfer-Encoding', 'chunked']], framing: 'none', body: Buffer.from('fffffffffffffffffff\r\n{}\r\n0\r\n\r\n') }],
      ['no Host', { headers: [JSON_TYPE], noHost: true }],
      ['space in a header name', { headers: [JSON_TYPE, ['Bad Header', 'x']] }],
      ['NUL in a header value', { headers: [JSON_TYPE, ['X-A', 'a\u0000b']] }],
      ['headers too large', { headers: [JSON_TYPE, ['X-Pad', 'p'.repeat(20_000)]] }],
    ),
  ).map(([path, [name, change]]) => ({ defect: `framing: ${name}`, request: { ...post(path, [], '{}'), ...change } })),
  notHttp.map((request) => ({ defect: 'not HTTP at all', request })),
];

/**
 * Node 20 parses the body of a request that asks for a protocol upgrade
 * (`Connection: upgrade` + `Upgrade`) leniently: a broken or cut-short body
 * there is not answered (docs/gateway.md, "Hostile input"). Framing defects
 * are therefore sent without that pair.
 */
const asksForUpgrade = ([name, value]: Header): boolean => /^(upgrade|connection)$/i.test(name) && /upgrade|h2c/i.test(value);

/** One hostile gateway request: a defect that must get it refused, with noise headers. */
export const gatewayCase: fc.Arbitrary<HostileCase> = fc.tuple(fc.oneof(...defects), noiseHeaders).map(([{ defect: name, request }, noise]) => ({
  api: 'gateway',
  defect: name,
  request:
    request.raw === undefined
      ? { ...request, headers: [...(name.startsWith('framing:') ? noise.filter((h) => !asksForUpgrade(h)) : noise), ...request.headers] }
      : request,
}));
