// A payment provider that fails and stalls on purpose (docs/process-managers.md), as pure
// logic: given a request and a seed it decides, deterministically, what the
// provider answers and after how long. Its process (payment-simulator.process.ts)
// consumes PaymentRequested / RefundRequested from restaurant.payment.requests,
// waits the delay and produces the answer into the order's stream on
// restaurant.payment.results.
//
// Determinism: every draw comes from a seeded PRNG (mulberry32) whose seed is
// sha256(seed, purpose, paymentId or refundId); no global randomness, no clock. The
// same request and seed give the same answer, with the same event id, however
// often the request is delivered, so a retried request is answered identically
// (an idempotent provider) and the workflow drops the duplicate by event id.
import { createHash } from 'node:crypto';
import type { EventMetadata, PaymentRequested, RefundRequested } from '../../schemas/generated/types';
import type { PayloadOf, PaymentMessage } from '../../schemas/messages';
import { systemActor } from '../../schemas/roles';
import { fulfilmentIds } from '../process-managers/order-fulfilment/order-fulfilment.workflow';
import { deterministicId } from '../../kernel/deterministic-id';

export interface DelayRange {
  /** Shortest delay, ms (inclusive). */
  readonly minMs: number;
  /** Longest delay, ms (inclusive). */
  readonly maxMs: number;
}

export interface SimulatorConfig {
  /** Share of payments declined, 0..1. */
  readonly declineShare: number;
  /** Share of payments never answered, 0..1 (declineShare + stallShare ≤ 1). */
  readonly stallShare: number;
  /** Delay before an authorization or a decline. */
  readonly answerDelay: DelayRange;
  /** Delay before a refund is issued (refunds always succeed, eventually). */
  readonly refundDelay: DelayRange;
}

export const DEFAULT_SIMULATOR_CONFIG: SimulatorConfig = Object.freeze({
  declineShare: 0.1,
  stallShare: 0.05,
  answerDelay: Object.freeze({ minMs: 50, maxMs: 2000 }),
  refundDelay: Object.freeze({ minMs: 100, maxMs: 3000 }),
});

export function validateSimulatorConfig(config: SimulatorConfig): SimulatorConfig {
  const share = (label: string, x: number): void => {
    if (!(x >= 0 && x <= 1)) throw new RangeError(`${label} must be within 0..1, got ${x}`);
  };
  share('declineShare', config.declineShare);
  share('stallShare', config.stallShare);
  share('declineShare + stallShare', config.declineShare + config.stallShare);
  for (const [label, r] of [['answerDelay', config.answerDelay], ['refundDelay', config.refundDelay]] as const) {
    if (!Number.isInteger(r.minMs) || !Number.isInteger(r.maxMs) || r.minMs < 0 || r.maxMs < r.minMs) {
      throw new RangeError(`${label} must be whole milliseconds with 0 ≤ minMs ≤ maxMs, got ${r.minMs}..${r.maxMs}`);
    }
  }
  return config;
}

/** mulberry32: a small, fast 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A PRNG for one decision, seeded from the run's seed, what is decided, and the id it is decided for. */
export function prngFor(seed: string | number, purpose: string, id: string): () => number {
  const digest = createHash('sha256').update(`${String(seed)}\u0000${purpose}\u0000${id}`).digest();
  return mulberry32(digest.readUInt32BE(0));
}

function drawDelay(next: () => number, range: DelayRange): number {
  return range.minMs + Math.floor(next() * (range.maxMs - range.minMs + 1));
}

/** The actor recorded on the answers the simulated provider writes. */
export const PAYMENT_SIMULATOR_ACTOR = 'payment-simulator';

export const DECLINE_REASONS = ['insufficient funds', 'card expired', 'suspected fraud'] as const;

export type PaymentFate =
  | { readonly outcome: 'authorize'; readonly delayMs: number }
  | { readonly outcome: 'decline'; readonly delayMs: number; readonly reason: string }
  | { readonly outcome: 'stall' };

/** What the provider does with a payment: depends only on the paymentId, the seed and the shares. */
export function paymentFate(paymentId: string, seed: string | number, config: SimulatorConfig = DEFAULT_SIMULATOR_CONFIG): PaymentFate {
  const next = prngFor(seed, 'payment', paymentId);
  const u = next();
  if (u < config.stallShare) return { outcome: 'stall' };
  const delayMs = drawDelay(next, config.answerDelay);
  if (u < config.stallShare + config.declineShare) {
    return { outcome: 'decline', delayMs, reason: DECLINE_REASONS[Math.floor(next() * DECLINE_REASONS.length)] ?? DECLINE_REASONS[0] };
  }
  return { outcome: 'authorize', delayMs };
}

/** How long the provider takes to issue a refund. */
export function refundDelayMs(refundId: string, seed: string | number, config: SimulatorConfig = DEFAULT_SIMULATOR_CONFIG): number {
  return drawDelay(prngFor(seed, 'refund', refundId), config.refundDelay);
}

/** An answer to produce after `delayMs`, with complete metadata (the runtime only waits and encodes). */
export interface ScheduledAnswer {
  readonly delayMs: number;
  readonly message: PaymentMessage;
  readonly metadata: EventMetadata;
}

function answerMetadata(type: PaymentMessage['type'], id: string, request: EventMetadata, delayMs: number): EventMetadata {
  return {
    eventId: deterministicId(id, 'payment-simulator', type),
    aggregateId: request.aggregateId,
    // Its place in the order's results stream is known when it is produced (decideProvider numbers it then).
    version: 0,
    occurredAt: request.occurredAt + delayMs,
    commandId: request.eventId,
    correlationId: request.correlationId,
    causationId: request.eventId,
    actor: systemActor(PAYMENT_SIMULATOR_ACTOR),
  };
}

/** The provider's answer to a payment request, or null when it stalls (never answers). */
export function answerPayment(
  request: { readonly data: PayloadOf<PaymentRequested>; readonly metadata: EventMetadata },
  seed: string | number,
  config: SimulatorConfig = DEFAULT_SIMULATOR_CONFIG,
): ScheduledAnswer | null {
  const { orderId, paymentId, amount } = request.data;
  const fate = paymentFate(paymentId, seed, config);
  switch (fate.outcome) {
    case 'stall':
      return null;
    case 'authorize':
      return {
        delayMs: fate.delayMs,
        message: { type: 'PaymentAuthorized', data: { orderId, paymentId, amount } },
        metadata: answerMetadata('PaymentAuthorized', paymentId, request.metadata, fate.delayMs),
      };
    case 'decline':
      return {
        delayMs: fate.delayMs,
        message: { type: 'PaymentDeclined', data: { orderId, paymentId, amount, reason: fate.reason } },
        metadata: answerMetadata('PaymentDeclined', paymentId, request.metadata, fate.delayMs),
      };
  }
}

/** The provider's answer to a refund request: always RefundIssued, after a seeded delay. */
export function answerRefund(
  request: { readonly data: PayloadOf<RefundRequested>; readonly metadata: EventMetadata },
  seed: string | number,
  config: SimulatorConfig = DEFAULT_SIMULATOR_CONFIG,
): ScheduledAnswer {
  const { orderId, paymentId, refundId, amount } = request.data;
  const delayMs = refundDelayMs(refundId, seed, config);
  return {
    delayMs,
    message: { type: 'RefundIssued', data: { orderId, paymentId, refundId, amount } },
    metadata: answerMetadata('RefundIssued', refundId, request.metadata, delayMs),
  };
}

export interface PredictedCounts {
  /** Provider answers. */
  readonly authorized: number;
  readonly declined: number;
  readonly stalled: number;
  /** Fulfilment outcomes these imply (checks passing, no cancellations): */
  /** Authorized within the payment timeout: the order is confirmed. */
  readonly confirmed: number;
  /** Declined within the timeout: the order is rejected. */
  readonly rejected: number;
  /** Stalled, or declined after the timeout: the order is cancelled ('payment timed out'). */
  readonly timedOut: number;
  /** Authorized after the timeout: cancelled, then refunded. */
  readonly refunded: number;
}

/**
 * Predicts, for orders that pass the checks and are not cancelled, what the
 * seed implies: the provider's answers and the fulfilment outcomes, given the
 * workflow's payment timeout (an answer later than the timeout is late). This
 * is what an e2e test compares the real run against.
 */
export function predictOutcomes(
  orderIds: readonly string[],
  seed: string | number,
  config: SimulatorConfig = DEFAULT_SIMULATOR_CONFIG,
  paymentTimeoutMs: number = Number.POSITIVE_INFINITY,
): PredictedCounts {
  const counts = { authorized: 0, declined: 0, stalled: 0, confirmed: 0, rejected: 0, timedOut: 0, refunded: 0 };
  for (const orderId of orderIds) {
    const fate = paymentFate(fulfilmentIds.payment(orderId), seed, config);
    if (fate.outcome === 'stall') {
      counts.stalled += 1;
      counts.timedOut += 1;
    } else if (fate.outcome === 'decline') {
      counts.declined += 1;
      if (fate.delayMs < paymentTimeoutMs) counts.rejected += 1;
      else counts.timedOut += 1;
    } else {
      counts.authorized += 1;
      if (fate.delayMs < paymentTimeoutMs) counts.confirmed += 1;
      else counts.refunded += 1;
    }
  }
  return counts;
}
