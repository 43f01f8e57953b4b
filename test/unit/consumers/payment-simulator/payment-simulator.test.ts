import {
  answerPayment,
  answerRefund,
  DEFAULT_SIMULATOR_CONFIG,
  mulberry32,
  paymentFate,
  predictOutcomes,
  validateSimulatorConfig,
  type SimulatorConfig,
} from '../../../../consumers/payment-simulator/payment-simulator';
import {
  decide,
  DEFAULT_FULFILMENT_CONFIG,
  fulfilmentIds,
  initialState,
  type FulfilmentConfig,
  type FulfilmentInput,
} from '../../../../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import type { EventMetadata, OrderFulfilmentState } from '../../../../schemas/generated/types';

const T0 = 1_767_225_600_000;
const SEED = 'e2e-seed-42';
const ORDERS = Array.from({ length: 400 }, (_, i) => `o-${String(i).padStart(4, '0')}`);

const requestMeta: EventMetadata = { eventId: 'e-req', aggregateId: 'o-1', version: 1, occurredAt: T0, commandId: 'e-placed', correlationId: 'corr-1', causationId: 'e-placed', actor: null };
const request = (paymentId: string) => ({ data: { orderId: 'o-1', paymentId, customerId: 'c-1', amount: { amountMinor: 3100, currency: 'EUR' } }, metadata: requestMeta });

describe('payment simulator', () => {
  it('mulberry32 is a fixed sequence for a fixed seed', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = [a(), a(), a()];
    expect([b(), b(), b()]).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('answers the same request the same way every time, with the same event id', () => {
    for (const orderId of ORDERS.slice(0, 50)) {
      const paymentId = fulfilmentIds.payment(orderId);
      expect(answerPayment(request(paymentId), SEED)).toEqual(answerPayment(request(paymentId), SEED));
    }
  });

  it('depends on the seed', () => {
    const fates = (seed: string) => ORDERS.map((o) => paymentFate(fulfilmentIds.payment(o), seed).outcome);
    expect(fates('a')).not.toEqual(fates('b'));
  });

  it('declines and stalls roughly the configured shares, with delays inside the range', () => {
    const fates = ORDERS.map((o) => paymentFate(fulfilmentIds.payment(o), SEED));
    const share = (outcome: string) => fates.filter((f) => f.outcome === outcome).length / fates.length;
    expect(share('decline')).toBeGreaterThan(0.05);
    expect(share('decline')).toBeLessThan(0.15);
    expect(share('stall')).toBeGreaterThan(0.01);
    expect(share('stall')).toBeLessThan(0.1);
    for (const f of fates) {
      if (f.outcome !== 'stall') {
        expect(f.delayMs).toBeGreaterThanOrEqual(DEFAULT_SIMULATOR_CONFIG.answerDelay.minMs);
        expect(f.delayMs).toBeLessThanOrEqual(DEFAULT_SIMULATOR_CONFIG.answerDelay.maxMs);
      }
    }
  });

  it('honours shares at the extremes: all stall, all decline, all authorize', () => {
    const all = (config: SimulatorConfig) => new Set(ORDERS.map((o) => paymentFate(fulfilmentIds.payment(o), SEED, config).outcome));
    expect(all({ ...DEFAULT_SIMULATOR_CONFIG, stallShare: 1, declineShare: 0 })).toEqual(new Set(['stall']));
    expect(all({ ...DEFAULT_SIMULATOR_CONFIG, stallShare: 0, declineShare: 1 })).toEqual(new Set(['decline']));
    expect(all({ ...DEFAULT_SIMULATOR_CONFIG, stallShare: 0, declineShare: 0 })).toEqual(new Set(['authorize']));
  });

  it('answers the request\'s order with metadata caused by the request (its version is given when it is produced)', () => {
    const paymentId = fulfilmentIds.payment('o-1');
    const answer = answerPayment(request(paymentId), SEED, { ...DEFAULT_SIMULATOR_CONFIG, stallShare: 0, declineShare: 0 });
    expect(answer?.message).toEqual({ type: 'PaymentAuthorized', data: { orderId: 'o-1', paymentId, amount: { amountMinor: 3100, currency: 'EUR' } } });
    expect(answer?.metadata).toMatchObject({ aggregateId: 'o-1', occurredAt: T0 + (answer?.delayMs ?? NaN), correlationId: 'corr-1', causationId: 'e-req' });
  });

  it('always issues a refund, after a seeded delay', () => {
    const refund = { data: { orderId: 'o-1', paymentId: 'p-1', refundId: 'r-1', amount: { amountMinor: 3100, currency: 'EUR' }, reason: 'cancelled' }, metadata: requestMeta };
    const answer = answerRefund(refund, SEED);
    expect(answer).toEqual(answerRefund(refund, SEED));
    expect(answer.message).toEqual({ type: 'RefundIssued', data: { orderId: 'o-1', paymentId: 'p-1', refundId: 'r-1', amount: { amountMinor: 3100, currency: 'EUR' } } });
    expect(answer.metadata).toMatchObject({ aggregateId: 'o-1', occurredAt: T0 + answer.delayMs, causationId: 'e-req' });
    expect(answer.delayMs).toBeGreaterThanOrEqual(DEFAULT_SIMULATOR_CONFIG.refundDelay.minMs);
    expect(answer.delayMs).toBeLessThanOrEqual(DEFAULT_SIMULATOR_CONFIG.refundDelay.maxMs);
  });

  it('refuses impossible knobs', () => {
    expect(() => validateSimulatorConfig({ ...DEFAULT_SIMULATOR_CONFIG, declineShare: 0.7, stallShare: 0.5 })).toThrow(RangeError);
    expect(() => validateSimulatorConfig({ ...DEFAULT_SIMULATOR_CONFIG, answerDelay: { minMs: 10, maxMs: 5 } })).toThrow(RangeError);
    expect(validateSimulatorConfig(DEFAULT_SIMULATOR_CONFIG)).toBe(DEFAULT_SIMULATOR_CONFIG);
  });
});

/**
 * Runs the fulfilment workflow against the simulator for one order, in time
 * order (a tiny discrete-event loop standing in for Kafka and the scheduler).
 */
function simulateOrder(orderId: string, seed: string, sim: SimulatorConfig, fulfilment: FulfilmentConfig): OrderFulfilmentState {
  const placedAt = T0;
  const meta = (version: number): EventMetadata => ({ eventId: `${orderId}-${version}`, aggregateId: orderId, version, occurredAt: placedAt, commandId: 'c', correlationId: orderId, causationId: 'c', actor: null });
  const queue: { at: number; input: FulfilmentInput }[] = [
    {
      at: placedAt,
      input: {
        type: 'OrderPlaced',
        data: { customerId: 'c-1', lines: [], deliveryAddress: { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' }, total: { amountMinor: 1000, currency: 'EUR' } },
        metadata: meta(5),
        facts: { customerExists: true, menuItems: {} },
      },
    },
  ];
  let state = initialState(orderId);
  while (queue.length > 0) {
    queue.sort((a, b) => a.at - b.at);
    const next = queue.shift();
    if (next === undefined) break;
    const decision = decide(next.input, state, fulfilment);
    state = decision.state;
    for (const d of decision.deadlines.set) queue.push({ at: d.dueAt, input: { type: 'DeadlineReached', orderId, name: d.name, dueAt: d.dueAt } });
    for (const e of decision.emit) {
      if (e.kind !== 'event') continue;
      const answer = e.event.type === 'PaymentRequested' ? answerPayment({ data: e.event.data, metadata: e.metadata }, seed, sim) : answerRefund({ data: e.event.data, metadata: e.metadata }, seed, sim);
      if (answer === null) continue;
      const input = { type: answer.message.type, data: answer.message.data, metadata: answer.metadata } as FulfilmentInput;
      queue.push({ at: answer.metadata.occurredAt, input });
    }
  }
  return state;
}

describe('predicted counts', () => {
  it.each([
    ['default knobs, a 5 minute payment timeout', DEFAULT_SIMULATOR_CONFIG, DEFAULT_FULFILMENT_CONFIG],
    ['a 1 second timeout, so some answers are late', { ...DEFAULT_SIMULATOR_CONFIG, declineShare: 0.2, stallShare: 0.1 }, { ...DEFAULT_FULFILMENT_CONFIG, paymentTimeoutMs: 1000 }],
  ])('match simulating every request through the workflow (%s)', (_label, sim, fulfilment) => {
    const predicted = predictOutcomes(ORDERS, SEED, sim, fulfilment.paymentTimeoutMs);
    const finals = ORDERS.map((o) => simulateOrder(o, SEED, sim, fulfilment).status);
    const count = (status: string) => finals.filter((s) => s === status).length;
    expect({ confirmed: count('CONFIRMED'), rejected: count('REJECTED'), timedOut: count('TIMED_OUT'), refunded: count('REFUNDED') }).toEqual({
      confirmed: predicted.confirmed,
      rejected: predicted.rejected,
      timedOut: predicted.timedOut,
      refunded: predicted.refunded,
    });
    expect(predicted.authorized + predicted.declined + predicted.stalled).toBe(ORDERS.length);
    expect(predicted.confirmed + predicted.rejected + predicted.timedOut + predicted.refunded).toBe(ORDERS.length);
    expect(predicted.stalled).toBeGreaterThan(0);
    expect(predicted.declined).toBeGreaterThan(0);
  });

  it('has late answers in the short-timeout case, so the refund path is exercised', () => {
    const predicted = predictOutcomes(ORDERS, SEED, DEFAULT_SIMULATOR_CONFIG, 1000);
    expect(predicted.refunded).toBeGreaterThan(0);
  });

  it('is a pure function of the orders and the seed', () => {
    expect(predictOutcomes(ORDERS, SEED)).toEqual(predictOutcomes([...ORDERS], SEED));
  });
});
