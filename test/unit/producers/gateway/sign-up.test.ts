// POST /customers: reserve the normalized email, sign up, release on refusal.
import { accepted, ADMIN_ACTOR, FIXED_NOW, pending, rejected, startGateway, unavailableResponder, type GatewayHarness } from '../../../support/gateway';

let gw: GatewayHarness;
beforeEach(async () => {
  gw = await startGateway();
});
afterEach(async () => {
  await gw.close();
});

const ADA = { name: ' Ada Lovelace ', email: ' Ada@Example.COM ' };
const meta = (suffix: string, aggregateId: string) => ({ commandId: `id-1:${suffix}`, aggregateId, correlationId: 'id-1', issuedAt: FIXED_NOW, expectedVersion: null, actor: ADMIN_ACTOR });

describe('POST /customers', () => {
  it('reserves the normalized email for the new customer, then signs them up: 201 with Location', async () => {
    const res = await gw.post('/customers', ADA);
    expect(gw.bus.sent).toEqual([
      { aggregate: 'email-reservation', command: { type: 'ReserveEmail', data: { customerId: 'id-2' } }, metadata: meta('reserve', 'ada@example.com') },
      { aggregate: 'customer', command: { type: 'SignUpCustomer', data: { name: 'Ada Lovelace', email: 'Ada@Example.COM' } }, metadata: meta('signup', 'id-2') },
    ]);
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe('/customers/id-2');
    expect(res.headers.get('etag')).toBe('"1"');
    expect(res.body).toMatchObject({ commandId: 'id-1:signup', aggregateId: 'id-2', aggregateVersion: 1 });
  });

  it('409 email_taken when another customer holds the email; no sign-up is sent', async () => {
    gw.bus.on('ReserveEmail', (e) => rejected(e, 'email_taken', 1));
    const res = await gw.post('/customers', ADA);
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: { code: 'email_taken' }, commandId: 'id-1:reserve' });
    expect(gw.bus.sent.map((e) => e.command.type)).toEqual(['ReserveEmail']);
  });

  it('releases the email when the sign-up is refused, and answers with the sign-up refusal', async () => {
    gw.bus.on('SignUpCustomer', (e) => rejected(e, 'customer_already_exists', 1));
    const res = await gw.post('/customers', ADA);
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: { code: 'customer_already_exists' }, commandId: 'id-1:signup', aggregateId: 'id-2' });
    expect(gw.bus.sent.map((e) => e.command.type)).toEqual(['ReserveEmail', 'SignUpCustomer', 'ReleaseEmail']);
    expect(gw.bus.sent[2]).toEqual({ aggregate: 'email-reservation', command: { type: 'ReleaseEmail', data: { customerId: 'id-2' } }, metadata: meta('release', 'ada@example.com') });
  });

  it('keeps a reservation it did not make: a signed-up customer posting again (the address already theirs) does not free it', async () => {
    gw.bus.on('ReserveEmail', (e) => ({ ...accepted(e, 1), events: [] })).on('SignUpCustomer', (e) => rejected(e, 'customer_already_exists', 1));
    const res = await gw.post('/customers', ADA, await gw.as('customer', 'cust-42'));
    expect(res.status).toBe(409);
    expect(gw.bus.sent.map((e) => e.command.type)).toEqual(['ReserveEmail', 'SignUpCustomer']);
    expect(gw.bus.sent[1]?.metadata.aggregateId).toBe('cust-42');
  });

  it('still answers with the sign-up refusal when the release fails, and logs it', async () => {
    gw.bus.on('SignUpCustomer', (e) => rejected(e, 'invalid_name', 0)).on('ReleaseEmail', unavailableResponder);
    const res = await gw.post('/customers', ADA);
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: { code: 'invalid_name' } });
    expect(gw.logger.entries).toEqual([expect.objectContaining({ level: 'error', details: expect.objectContaining({ commandId: 'id-1:release', signUpRejection: 'invalid_name' }) })]);
    expect(JSON.stringify(gw.logger.entries)).not.toContain('ada@example.com');
  });

  it('logs a release that is itself rejected', async () => {
    gw.bus.on('SignUpCustomer', (e) => rejected(e, 'invalid_name', 0)).on('ReleaseEmail', (e) => rejected(e, 'not_reservation_holder', 1));
    await gw.post('/customers', ADA);
    expect(gw.logger.entries).toEqual([expect.objectContaining({ level: 'warn', details: expect.objectContaining({ releaseRejection: 'not_reservation_holder' }) })]);
  });

  it('202 with the reservation to poll when it is not decided in time; the sign-up is not sent', async () => {
    gw.bus.on('ReserveEmail', pending);
    const res = await gw.post('/customers', ADA);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ commandId: 'id-1:reserve', aggregateId: 'ada@example.com', status: 'pending', statusUrl: '/commands/id-1:reserve' });
    expect(res.headers.get('location')).toBe('/commands/id-1:reserve');
    expect(gw.bus.sent.map((e) => e.command.type)).toEqual(['ReserveEmail']);
  });

  it('202 with the sign-up to poll when the sign-up is not decided in time', async () => {
    gw.bus.on('SignUpCustomer', pending);
    const res = await gw.post('/customers', ADA);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ commandId: 'id-1:signup', aggregateId: 'id-2', status: 'pending' });
  });

  it('503 when the bus is down; the reservation is kept for a retry', async () => {
    gw.bus.on('SignUpCustomer', unavailableResponder);
    const res = await gw.post('/customers', ADA);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(gw.bus.sent.map((e) => e.command.type)).toEqual(['ReserveEmail', 'SignUpCustomer']);
  });

  it('replays exactly the same three commands when retried with the same Idempotency-Key', async () => {
    gw.bus.on('SignUpCustomer', (e) => rejected(e, 'invalid_name', 0));
    await gw.post('/customers', ADA, { 'idempotency-key': 'signup-ada' });
    await gw.post('/customers', ADA, { 'idempotency-key': 'signup-ada' });
    expect(gw.bus.sent).toHaveLength(6);
    expect(gw.bus.sent.slice(3)).toEqual(gw.bus.sent.slice(0, 3));
    const [reserve, signUp, release] = gw.bus.sent;
    expect(reserve?.metadata.commandId).toMatch(/:reserve$/);
    expect(signUp?.metadata.commandId).toBe(reserve?.metadata.commandId.replace(/:reserve$/, ':signup'));
    expect(release?.metadata.commandId).toBe(reserve?.metadata.commandId.replace(/:reserve$/, ':release'));
    expect(reserve?.command).toEqual({ type: 'ReserveEmail', data: { customerId: signUp?.metadata.aggregateId } });
  });

  it('applies If-Match to the customer only', async () => {
    await gw.post('/customers', ADA, { 'if-match': '0' });
    expect(gw.bus.sent.map((e) => e.metadata.expectedVersion)).toEqual([null, 0]);
  });

  it('shares the correlation id across the flow', async () => {
    await gw.post('/customers', ADA, { 'x-correlation-id': 'onboarding-9' });
    expect(gw.bus.sent.map((e) => e.metadata.correlationId)).toEqual(['onboarding-9', 'onboarding-9']);
  });
});
