// Idempotency-Key, If-Match and X-Correlation-Id → command metadata.
import { deriveId } from '../../../../producers/gateway/request-metadata';
import { FIXED_NOW, startGateway, type GatewayHarness } from '../../../support/gateway';

let gw: GatewayHarness;
beforeEach(async () => {
  gw = await startGateway();
});
afterEach(async () => {
  await gw.close();
});

const UUID_LIKE = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('Idempotency-Key', () => {
  it('on a creation, derives both the command id and the new aggregate id from the key: a retry is the same envelope', async () => {
    const first = await gw.post('/orders', { customerId: 'c-1' }, { 'idempotency-key': 'checkout-7f3a' });
    const second = await gw.post('/orders', { customerId: 'c-1' }, { 'idempotency-key': 'checkout-7f3a' });
    expect(gw.bus.sent).toHaveLength(2);
    expect(gw.bus.sent[1]).toEqual(gw.bus.sent[0]);
    const { commandId, aggregateId } = gw.bus.sent[0]!.metadata;
    expect(commandId).toMatch(UUID_LIKE);
    expect(aggregateId).toMatch(UUID_LIKE);
    expect(commandId).not.toBe(aggregateId);
    expect(first.headers.get('location')).toBe(`/orders/${aggregateId}`);
    expect(second.headers.get('location')).toBe(first.headers.get('location'));
  });

  it('on other routes, derives the command id; the target stays the path id', async () => {
    await gw.post('/orders/o-1/place', undefined, { 'idempotency-key': 'place-1' });
    await gw.post('/orders/o-1/place', undefined, { 'idempotency-key': 'place-1' });
    expect(gw.bus.sent[1]).toEqual(gw.bus.sent[0]);
    expect(gw.bus.sent[0]?.metadata).toMatchObject({ aggregateId: 'o-1', commandId: expect.stringMatching(UUID_LIKE), issuedAt: FIXED_NOW });
  });

  it('scopes the key to the route and its params: same key elsewhere is a different command', async () => {
    await gw.post('/orders/o-1/place', undefined, { 'idempotency-key': 'k' });
    await gw.post('/orders/o-2/place', undefined, { 'idempotency-key': 'k' });
    await gw.post('/orders/o-1/confirm', undefined, { 'idempotency-key': 'k' });
    await gw.post('/orders', { customerId: 'c-1' }, { 'idempotency-key': 'k' });
    await gw.post('/menu/items', { name: 'Cola', category: 'DRINK', price: { amountMinor: 300, currency: 'EUR' } }, { 'idempotency-key': 'k' });
    const ids = gw.bus.sent.flatMap((e) => [e.metadata.commandId]);
    expect(new Set(ids).size).toBe(5);
    expect(gw.bus.sent[3]?.metadata.aggregateId).not.toBe(gw.bus.sent[4]?.metadata.aggregateId);
  });

  it('does not use newId when a key is given', async () => {
    await gw.post('/orders', { customerId: 'c-1' }, { 'idempotency-key': 'k' });
    await gw.post('/orders', { customerId: 'c-1' });
    expect(gw.bus.sent[1]?.metadata).toMatchObject({ commandId: 'id-1', aggregateId: 'id-2' });
  });

  it.each([
    ['too long', 'k'.repeat(129)],
    ['non-ASCII', 'clé-1'],
  ])('400 when the key is %s', async (_what, key) => {
    const res = await gw.request('POST', '/orders/o-1/place', { headers: { 'idempotency-key': key } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'invalid_request', fields: [{ field: 'headers.Idempotency-Key', message: expect.any(String) }] } });
    expect(gw.bus.sent).toEqual([]);
  });

  it('a key with a control character never reaches the app: node answers 400 and nothing is sent', async () => {
    // fetch and http.request refuse to send control characters in headers, so speak HTTP/1.1 by hand.
    const { connect } = await import('node:net');
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(gw.server.port, '127.0.0.1', () => {
        socket.end('POST /orders/o-1/place HTTP/1.1\r\nHost: x\r\nIdempotency-Key: a\u0001b\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      });
      let data = '';
      socket.on('data', (chunk: Buffer) => (data += chunk.toString('utf8')));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(gw.bus.sent).toEqual([]);
  });

  it('lists header problems together with body problems', async () => {
    const res = await gw.post('/orders/o-1/cancel', {}, { 'idempotency-key': 'x'.repeat(200), 'if-match': 'soon' });
    expect((res.body as { error: { fields: { field: string }[] } }).error.fields.map((f) => f.field).sort()).toEqual(['headers.Idempotency-Key', 'headers.If-Match', 'reason']);
  });
});

describe('If-Match', () => {
  it.each([
    ['7', 7],
    ['"7"', 7],
    ['0', 0],
    [' "12" ', 12],
  ])('%p → expectedVersion %p', async (header, version) => {
    await gw.post('/orders/o-1/place', undefined, { 'if-match': header });
    expect(gw.bus.sent[0]?.metadata.expectedVersion).toBe(version);
  });

  it('absent → expectedVersion null', async () => {
    await gw.post('/orders/o-1/place');
    expect(gw.bus.sent[0]?.metadata.expectedVersion).toBeNull();
  });

  it.each(['-1', '1.5', 'W/"3"', '*', '"3", "4"', 'three', '99999999999999999', '1e3'])('400 for %p', async (header) => {
    const res = await gw.post('/orders/o-1/place', undefined, { 'if-match': header });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'invalid_request', fields: [{ field: 'headers.If-Match' }] } });
    expect(gw.bus.sent).toEqual([]);
  });
});

describe('X-Correlation-Id', () => {
  it('is taken when valid and echoed back', async () => {
    const res = await gw.post('/orders/o-1/place', undefined, { 'x-correlation-id': 'checkout-42' });
    expect(gw.bus.sent[0]?.metadata).toMatchObject({ commandId: 'id-1', correlationId: 'checkout-42' });
    expect(res.headers.get('x-correlation-id')).toBe('checkout-42');
  });

  it.each([['with spaces', 'a b'], ['too long', 'c'.repeat(129)]])('falls back to the command id when %s', async (_what, header) => {
    await gw.post('/orders/o-1/place', undefined, { 'x-correlation-id': header });
    expect(gw.bus.sent[0]?.metadata.correlationId).toBe('id-1');
  });
});

describe('deriveId', () => {
  it('is deterministic, uuid-shaped and sensitive to every part and to how parts are split', () => {
    expect(deriveId('a', 'b')).toBe(deriveId('a', 'b'));
    expect(deriveId('a', 'b')).toMatch(UUID_LIKE);
    expect(deriveId('a', 'b')).not.toBe(deriveId('a', 'c'));
    expect(deriveId('a:b', 'c')).not.toBe(deriveId('a', 'b:c'));
  });
});
