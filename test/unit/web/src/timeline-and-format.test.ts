import { formatDuration, formatMoney, parseAmount } from '../../../../web/src/format';
import { timelineRows } from '../../../../web/src/timeline';
import type { OrderDocument, TimelineStep } from '../../../../web/src/types';

const step = (name: TimelineStep['step'], at: number, reason: string | null = null): TimelineStep => ({ step: name, at, version: at, reason });
const rows = (status: OrderDocument['status'], steps: TimelineStep[]) => timelineRows({ status, timeline: steps }).map((r) => `${r.key}:${r.state}${r.detail === null ? '' : `:${r.detail}`}`);

describe("the customer's timeline", () => {
  it('is empty before the order is placed', () => {
    expect(rows('OPEN', [step('opened', 1)])).toEqual([]);
  });

  it('waits for payment once placed, everything after it still to come', () => {
    expect(rows('PLACED', [step('opened', 1), step('placed', 2)])).toEqual([
      'placed:done',
      'payment:current',
      'confirmed:upcoming',
      'preparation_started:upcoming',
      'ready:upcoming',
      'dispatched:upcoming',
      'delivered:upcoming',
    ]);
  });

  it('marks the next step as the current one as the order moves on', () => {
    expect(rows('PREPARING', [step('opened', 1), step('placed', 2), step('confirmed', 3), step('preparation_started', 4)])).toEqual([
      'placed:done',
      'payment:done',
      'confirmed:done',
      'preparation_started:done',
      'ready:current',
      'dispatched:upcoming',
      'delivered:upcoming',
    ]);
  });

  it('says why a rejected order was rejected, payment declined included', () => {
    expect(rows('REJECTED', [step('opened', 1), step('placed', 2), step('rejected', 3, 'payment declined: insufficient funds')])).toEqual([
      'placed:done',
      'payment:failed',
      'rejected:failed:payment declined: insufficient funds',
    ]);
  });

  it('ends at a cancellation with its reason', () => {
    expect(rows('CANCELLED', [step('opened', 1), step('placed', 2), step('confirmed', 3), step('cancelled', 4, 'changed my mind')])).toEqual([
      'placed:done',
      'payment:done',
      'confirmed:done',
      'cancelled:failed:changed my mind',
    ]);
  });
});

describe('formatting', () => {
  it('shows money in its minor digits and parses typed amounts', () => {
    expect(formatMoney({ amountMinor: 1250, currency: 'EUR' })).toBe('€12.50');
    expect(formatMoney({ amountMinor: 1250, currency: 'JPY' })).toBe('JP¥1,250');
    expect(parseAmount('12.5', 'EUR')).toBe(1250);
    expect(parseAmount('12,05', 'EUR')).toBe(1205);
    expect(parseAmount('12.505', 'EUR')).toBeUndefined();
    expect(parseAmount('0', 'EUR')).toBeUndefined();
    expect(parseAmount('-3', 'EUR')).toBeUndefined();
    expect(parseAmount('abc', 'EUR')).toBeUndefined();
  });

  it('shows waiting times as they grow', () => {
    expect(formatDuration(42_400)).toBe('42 s');
    expect(formatDuration(75_000)).toBe('1 min 15 s');
    expect(formatDuration(3_900_000)).toBe('1 h 05 min');
    expect(formatDuration(-5)).toBe('0 s');
  });
});
