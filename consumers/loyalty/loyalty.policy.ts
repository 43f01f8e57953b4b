// Loyalty points: choreography. This consumer reacts to the order's own events
// (OrderPlaced, OrderDelivered) and nobody orchestrates it: the fulfilment
// process does not know it exists, and removing it changes nothing upstream.
//
// Rule: a delivered order earns its customer 1 point per whole currency unit of
// the order total (floor(amountMinor / 100); an order of 31.00 EUR earns 31).
//
// OrderDelivered carries no customer or total, so the policy keeps a tiny state
// per order, filled from OrderPlaced (same partition: order events are keyed by
// orderId). Idempotency: events at or below the state's version are replays, and
// an order awards at most once (`awarded`), under the deterministic award id
// deterministicId(orderId, 'loyalty'); the ledger applies an award id once.
//
// Pure: no Kafka, no clock (times come from event metadata), no randomness.
import type { EventMetadata, LoyaltyOrderState, Money } from '../../schemas/generated/types';
import type { OrderEvent } from '../../schemas/messages';
import { deterministicId } from '../../kernel/deterministic-id';

/** The per-order state is the Avro record of restaurant.loyalty.changelog (version, customerId, total, awarded). */
export type { LoyaltyOrderState };

export interface PointsAwarded {
  /** Deterministic: the same order always yields the same award id. */
  readonly awardId: string;
  readonly customerId: string;
  readonly orderId: string;
  readonly points: number;
  /** When the order was delivered, epoch ms. */
  readonly at: number;
}

export interface LoyaltyDecision {
  readonly awards: readonly PointsAwarded[];
  readonly state: LoyaltyOrderState;
}

export const initialLoyaltyState = (orderId: string): LoyaltyOrderState => ({ orderId, version: 0, customerId: null, total: null, awarded: false });

export const loyaltyAwardId = (orderId: string): string => deterministicId(orderId, 'loyalty');

/** 1 point per whole unit of the currency (assumes two-decimal currencies, as the menu does). */
export function pointsFor(total: Money): number {
  return Math.max(0, Math.floor(total.amountMinor / 100));
}

/** Reacts to one order event. Events the policy does not care about still advance the version. */
export function decideLoyalty(event: OrderEvent, metadata: EventMetadata, state: LoyaltyOrderState): LoyaltyDecision {
  if (metadata.aggregateId !== state.orderId) throw new Error(`event of order ${metadata.aggregateId} fed to the loyalty state of ${state.orderId}`);
  if (metadata.version <= state.version) return { awards: [], state }; // a replay or redelivery
  const next: LoyaltyOrderState = { ...state, version: metadata.version };
  switch (event.type) {
    case 'OrderPlaced':
      return { awards: [], state: { ...next, customerId: event.data.customerId, total: event.data.total } };
    case 'OrderDelivered': {
      if (state.awarded || state.customerId === null || state.total === null) return { awards: [], state: next };
      const award: PointsAwarded = {
        awardId: loyaltyAwardId(state.orderId),
        customerId: state.customerId,
        orderId: state.orderId,
        points: pointsFor(state.total),
        at: metadata.occurredAt,
      };
      return { awards: [award], state: { ...next, awarded: true } };
    }
    default:
      return { awards: [], state: next };
  }
}

/** A customer's balance, built from awards; an award id counts once however often it arrives. */
export interface LoyaltyLedger {
  readonly balances: Readonly<Record<string, number>>;
  readonly applied: ReadonlySet<string>;
}

export const emptyLedger: LoyaltyLedger = { balances: {}, applied: new Set() };

export function applyAward(ledger: LoyaltyLedger, award: PointsAwarded): LoyaltyLedger {
  if (ledger.applied.has(award.awardId)) return ledger;
  return {
    balances: { ...ledger.balances, [award.customerId]: (ledger.balances[award.customerId] ?? 0) + award.points },
    applied: new Set([...ledger.applied, award.awardId]),
  };
}
