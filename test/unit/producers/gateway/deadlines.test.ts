// Every command request is answered within its bound (docs/recovery.md): a
// reply wait is cut to what is left of the request's time, a bus that does not
// answer at all gets 503 with Retry-After at the deadline, and a gateway that
// knows Kafka is not answering refuses at once.
import { accepted, pending, startGateway, type GatewayHarness } from '../../../support/gateway';

let gw: GatewayHarness | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

const never = (): Promise<never> => new Promise<never>(() => undefined);

describe('request deadlines', () => {
  it('a bus that never answers: 503 with Retry-After at the deadline, not a hanging request', async () => {
    gw = await startGateway({ replyWaitMs: 200, requestTimeoutMs: 400 });
    gw.bus.on('*', never);
    const started = Date.now();
    const res = await gw.post('/orders/o-1/place');
    const took = Date.now() - started;
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(res.body).toEqual({ error: { code: 'unavailable', message: expect.any(String) }, commandId: 'id-1' });
    expect(took).toBeGreaterThanOrEqual(350);
    expect(gw.logger.entries).toContainEqual(expect.objectContaining({ level: 'warn', message: expect.stringContaining('not answered in time') }));
  });

  it('the reply wait ends before the deadline, so a written command is answered 202, not 503', async () => {
    gw = await startGateway({ replyWaitMs: 5_000, requestTimeoutMs: 600 });
    gw.bus.on('*', (e) => pending(e));
    const res = await gw.post('/orders/o-1/place');
    expect(res.status).toBe(202);
    expect(gw.bus.waits[0]).toBeLessThanOrEqual(600 - 150);
  });

  it('the sign-up flow shares one deadline across its commands', async () => {
    gw = await startGateway({ replyWaitMs: 300, requestTimeoutMs: 500 });
    const slow = (e: Parameters<typeof accepted>[0]) => new Promise<ReturnType<typeof accepted>>((resolve) => setTimeout(() => resolve(accepted(e)), 250));
    gw.bus.on('*', slow);
    const started = Date.now();
    const res = await gw.post('/customers', { name: 'Ada', email: 'ada@example.com' });
    expect([201, 503]).toContain(res.status);
    expect(Date.now() - started).toBeLessThan(1_500);
    // The second command waits only for what is left after the first.
    expect(gw.bus.waits[1] ?? 0).toBeLessThan(300);
  });

  it('refuses at once with 503 while Kafka is known not to answer; nothing is sent', async () => {
    gw = await startGateway({ replyWaitMs: 5_000, kafkaAnswers: () => false });
    const started = Date.now();
    const res = await gw.post('/orders/o-1/place');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(gw.bus.sent).toEqual([]);
  });

  it('bad input is still 400 while Kafka does not answer', async () => {
    gw = await startGateway({ kafkaAnswers: () => false });
    const res = await gw.post('/menu/items', { name: '' });
    expect(res.status).toBe(400);
  });
});
