import { applyAward, decideLoyalty, emptyLedger, initialLoyaltyState, loyaltyAwardId, pointsFor, type LoyaltyOrderState, type PointsAwarded } from '../../../../consumers/loyalty/loyalty.policy';
import type { EventMetadata } from '../../../../schemas/generated/types';
import type { OrderEvent } from '../../../../schemas/messages';

const T0 = 1_767_225_600_000;
const meta = (orderId: string, version: number, at = T0): EventMetadata => ({ eventId: `${orderId}-${version}`, aggregateId: orderId, version, occurredAt: at, commandId: 'c', correlationId: 'k', causationId: 'c', actor: null });
const placed = (customerId: string, amountMinor: number): OrderEvent => ({
  type: 'OrderPlaced',
  data: { customerId, lines: [], deliveryAddress: { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' }, total: { amountMinor, currency: 'EUR' } },
});
const history = (orderId: string, customerId: string, amountMinor: number): [OrderEvent, EventMetadata][] => [
  [{ type: 'OrderOpened', data: { customerId } }, meta(orderId, 1)],
  [placed(customerId, amountMinor), meta(orderId, 4)],
  [{ type: 'OrderConfirmed', data: {} }, meta(orderId, 5)],
  [{ type: 'OrderDispatched', data: {} }, meta(orderId, 8)],
  [{ type: 'OrderDelivered', data: {} }, meta(orderId, 9, T0 + 3_600_000)],
];

function feed(events: [OrderEvent, EventMetadata][], from: LoyaltyOrderState): { state: LoyaltyOrderState; awards: PointsAwarded[] } {
  let state = from;
  const awards: PointsAwarded[] = [];
  for (const [event, metadata] of events) {
    const d = decideLoyalty(event, metadata, state);
    awards.push(...d.awards);
    state = d.state;
  }
  return { state, awards };
}

describe('loyalty policy (choreography)', () => {
  it('awards 1 point per whole euro when an order is delivered', () => {
    const { awards, state } = feed(history('o-1', 'c-1', 3150), initialLoyaltyState('o-1'));
    expect(awards).toEqual([{ awardId: loyaltyAwardId('o-1'), customerId: 'c-1', orderId: 'o-1', points: 31, at: T0 + 3_600_000 }]);
    expect(state).toMatchObject({ version: 9, awarded: true });
  });

  it('awards nothing for an order that is never delivered', () => {
    const events = history('o-2', 'c-1', 3150).slice(0, 3);
    expect(feed([...events, [{ type: 'OrderCancelled', data: { reason: 'x' } }, meta('o-2', 6)]], initialLoyaltyState('o-2')).awards).toEqual([]);
  });

  it('awards once when the whole history is replayed, or delivered twice', () => {
    const events = history('o-1', 'c-1', 3150);
    const first = feed(events, initialLoyaltyState('o-1'));
    expect(feed(events, first.state)).toEqual({ state: first.state, awards: [] });
    expect(feed(events.flatMap((e) => [e, e]), initialLoyaltyState('o-1'))).toEqual(first);
  });

  it('counts an award id once in the ledger, even when a lost state re-derives it', () => {
    const once = feed(history('o-1', 'c-1', 3150), initialLoyaltyState('o-1')).awards;
    const again = feed(history('o-1', 'c-1', 3150), initialLoyaltyState('o-1')).awards; // state lost: same award id
    const other = feed(history('o-3', 'c-1', 999), initialLoyaltyState('o-3')).awards;
    const ledger = [...once, ...again, ...other].reduce(applyAward, emptyLedger);
    expect(ledger.balances).toEqual({ 'c-1': 31 + 9 });
  });

  it('rounds down and never goes negative', () => {
    expect(pointsFor({ amountMinor: 99, currency: 'EUR' })).toBe(0);
    expect(pointsFor({ amountMinor: 100, currency: 'EUR' })).toBe(1);
  });
});
