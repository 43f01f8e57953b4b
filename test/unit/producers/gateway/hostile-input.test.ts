// Inputs an attacker would try: undecodable paths, compressed or mis-declared
// bodies, bytes that are not UTF-8, absurd nesting, odd methods. Each gets a
// 4xx with the documented error shape and sends nothing to the bus
// (docs/gateway.md, "Hostile input").
import { gzipSync, deflateSync, brotliCompressSync } from 'node:zlib';
import avro from 'avsc';
import { startGateway, type GatewayHarness } from '../../../support/gateway';
import { sendRaw } from '../../../support/raw-http';

let gw: GatewayHarness;
beforeEach(async () => {
  gw = await startGateway();
});
afterEach(async () => {
  await gw.close();
});

const errorOf = (body: unknown) => (body as { error: { code: string; message: string } }).error;
const JSON_TYPE = { 'content-type': 'application/json' };
const NAME = Buffer.from('{"name":"Ada"}', 'utf8');

describe('paths', () => {
  it.each([
    ['POST', '/orders/%ff/place'],
    ['POST', '/orders/%E0%A4%A/place'],
    ['POST', '/customers/%/name'],
    ['GET', '/commands/%c3%28'],
  ])('400 invalid_request for malformed percent-encoding: %s %s', async (method, path) => {
    const res = await gw.request(method, path, method === 'POST' ? { json: {} } : {});
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: 'invalid_request', message: expect.any(String), fields: [{ field: 'path', message: expect.any(String) }] } });
    expect(gw.bus.sent).toEqual([]);
  });

  it('400 for a NUL byte in an id', async () => {
    const res = await gw.request('POST', '/orders/o%00x/place', { json: {} });
    expect(res.status).toBe(400);
    expect(gw.bus.sent).toEqual([]);
  });
});

describe('content encodings', () => {
  it.each([
    ['gzip', gzipSync(NAME)],
    ['deflate', deflateSync(NAME)],
    ['br', brotliCompressSync(NAME)],
    ['gzip', Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x67, 0x61, 0x72, 0x62])],
    ['br', gzipSync(NAME)],
    ['compress', NAME],
    ['gzip, gzip', gzipSync(gzipSync(NAME))],
  ])('415 unsupported_media_type for a %s body, whether or not it decodes', async (encoding, raw) => {
    const res = await gw.request('POST', '/customers/c-1/name', { raw, headers: { ...JSON_TYPE, 'content-encoding': encoding } });
    expect(res.status).toBe(415);
    expect(res.body).toEqual({ error: { code: 'unsupported_media_type', message: expect.any(String) } });
    expect(gw.bus.sent).toEqual([]);
  });

  it('accepts Content-Encoding: identity', async () => {
    const res = await gw.request('POST', '/customers/c-1/name', { raw: NAME, headers: { ...JSON_TYPE, 'content-encoding': 'identity' } });
    expect(res.status).toBe(200);
    expect(gw.bus.sent).toHaveLength(1);
  });
});

describe('character encodings', () => {
  it.each([
    ['an invalid byte', Buffer.from([...Buffer.from('{"name":"A'), 0xff, ...Buffer.from('da"}')])],
    ['a truncated sequence', Buffer.from([...Buffer.from('{"name":"A'), 0xe2, 0x82, ...Buffer.from('"}')])],
    ['an overlong encoding', Buffer.from([...Buffer.from('{"name":"A'), 0xc0, 0xaf, ...Buffer.from('"}')])],
    ['an encoded surrogate', Buffer.from([...Buffer.from('{"name":"A'), 0xed, 0xa0, 0x80, ...Buffer.from('"}')])],
    ['a UTF-16 byte order mark', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"name":"Ada"}', 'utf16le')])],
  ])('400 malformed_json for a body with %s (never stored as U+FFFD)', async (_what, raw) => {
    const res = await gw.request('POST', '/customers/c-1/name', { raw, headers: JSON_TYPE });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: 'malformed_json', message: expect.stringContaining('UTF-8') } });
    expect(gw.bus.sent).toEqual([]);
  });

  it.each(['utf-16', 'UTF-16LE', 'utf-32', 'utf-7', 'latin1', 'us-ascii', 'no-such-charset'])('415 for charset=%s', async (charset) => {
    const raw = charset.toLowerCase().startsWith('utf-16') ? Buffer.from('{"name":"Ada"}', 'utf16le') : NAME;
    const res = await gw.request('POST', '/customers/c-1/name', { raw, headers: { 'content-type': `application/json; charset=${charset}` } });
    expect(res.status).toBe(415);
    expect(errorOf(res.body).code).toBe('unsupported_media_type');
    expect(gw.bus.sent).toEqual([]);
  });

  it('ignores one leading UTF-8 byte order mark', async () => {
    const res = await gw.request('POST', '/customers/c-1/name', { raw: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), NAME]), headers: JSON_TYPE });
    expect(res.status).toBe(200);
    expect(gw.bus.sent[0]?.command).toMatchObject({ data: { name: 'Ada' } });
  });
});

describe('bodies', () => {
  it('400 for JSON nested thousands deep, without a stack overflow', async () => {
    const raw = `{"name":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    const res = await gw.request('POST', '/customers/c-1/name', { raw, headers: JSON_TYPE });
    expect(res.status).toBe(400);
    expect(gw.bus.sent).toEqual([]);
  });

  it.each(['{"__proto__":{"polluted":true},"name":"Ada"}', '{"constructor":{"prototype":{"polluted":true}},"name":"Ada"}'])('400 for a prototype-pollution key: %s', async (raw) => {
    const res = await gw.request('POST', '/customers/c-1/name', { raw, headers: JSON_TYPE });
    expect(res.status).toBe(400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(gw.bus.sent).toEqual([]);
  });
});

describe('methods', () => {
  it.each([
    ['OPTIONS', '/orders/o-1/place', 405],
    ['HEAD', '/orders/o-1/place', 405],
    ['PROPFIND', '/orders/o-1/place', 405],
    ['PUT', '/nowhere', 404],
    ['OPTIONS', '*', 404],
  ])('%s %s → %i', async (method, path, status) => {
    const res = await gw.request(method, path === '*' ? '/*' : path);
    expect(res.status).toBe(status);
    expect(gw.bus.sent).toEqual([]);
  });

  it.each([
    ['a broken chunk size', 'zz\r\n{}\r\n0\r\n\r\n'],
    ['a chunk size that overflows', 'fffffffffffffffffff\r\n{}\r\n0\r\n\r\n'],
  ])('400 and nothing sent for a route without a body whose chunked body has %s (node refuses it while the token is verified)', async (_what, chunks) => {
    const authorization = (await gw.as('admin')).authorization ?? '';
    const outcome = await sendRaw(gw.server.port, {
      method: 'POST',
      target: '/orders/o-1/ready',
      headers: [['Authorization', authorization], ['Content-Type', 'application/json'], ['Transfer-Encoding', 'chunked']],
      body: Buffer.from(chunks, 'latin1'),
      framing: 'none',
    });
    expect(outcome).toMatchObject({ kind: 'status', status: 400 });
    // The handler would run after the token's verification, if at all: give it the time it would take.
    await new Promise((resolve) => setImmediate(resolve));
    await gw.post('/orders/o-2/ready');
    expect(gw.bus.sent.map((e) => e.metadata.aggregateId)).toEqual(['o-2']);
  });

  it('405 for CONNECT, answered rather than dropped', async () => {
    const outcome = await sendRaw(gw.server.port, { method: 'CONNECT', target: 'evil.example:443', headers: [], body: Buffer.alloc(0), framing: 'none' });
    expect(outcome).toMatchObject({ kind: 'status', status: 405 });
  });
});

describe('numbers at the edge of what an Avro long carries', () => {
  // avsc refuses longs above 2^53 - 2 (one below Number.MAX_SAFE_INTEGER): encoding such a command was a 500.
  const LONG = avro.Type.forSchema('long');
  const price = (amountMinor: number) => ({ price: { amountMinor, currency: 'EUR' } });

  it('400 for a price of Number.MAX_SAFE_INTEGER minor units; the largest exact long is taken', async () => {
    expect(LONG.isValid(Number.MAX_SAFE_INTEGER)).toBe(false);
    const refused = await gw.post('/menu/items/m-1/price', price(Number.MAX_SAFE_INTEGER));
    expect(refused.status).toBe(400);
    expect(gw.bus.sent).toEqual([]);
    const taken = await gw.post('/menu/items/m-1/price', price(Number.MAX_SAFE_INTEGER - 1));
    expect(taken.status).toBe(200);
    expect(LONG.isValid(Number.MAX_SAFE_INTEGER - 1)).toBe(true);
  });

  it('400 for If-Match: 9007199254740991', async () => {
    const res = await gw.post('/orders/o-1/place', {}, { 'If-Match': String(Number.MAX_SAFE_INTEGER) });
    expect(res.status).toBe(400);
    expect(gw.bus.sent).toEqual([]);
  });
});
