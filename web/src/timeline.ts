// The customer's view of an order's progress (pure): from the read model's
// timeline to the rows the order page shows, every step of the way with what
// is done, what is happening now and what is still to come.
import type { OrderDocument, TimelineStepName } from './types';

export type RowState = 'done' | 'current' | 'upcoming' | 'failed';

export interface TimelineRow {
  readonly key: string;
  readonly label: string;
  readonly state: RowState;
  /** When it happened (epoch ms), for done and failed rows. */
  readonly at: number | null;
  readonly detail: string | null;
}

const FORWARD: readonly { step: TimelineStepName; label: string; waiting: string }[] = [
  { step: 'confirmed', label: 'Confirmed by the restaurant', waiting: 'Waiting for the restaurant' },
  { step: 'preparation_started', label: 'Being prepared', waiting: 'Waiting for the kitchen' },
  { step: 'ready', label: 'Ready for the courier', waiting: 'Cooking' },
  { step: 'dispatched', label: 'On its way', waiting: 'Waiting for a courier' },
  { step: 'delivered', label: 'Delivered', waiting: 'On its way to you' },
];

export function timelineRows(order: Pick<OrderDocument, 'timeline' | 'status'>): TimelineRow[] {
  const at = new Map(order.timeline.map((s) => [s.step, s] as const));
  const placed = at.get('placed');
  if (placed === undefined) return [];
  const rows: TimelineRow[] = [{ key: 'placed', label: 'Order placed', state: 'done', at: placed.at, detail: null }];
  const confirmed = at.get('confirmed');
  const rejected = at.get('rejected');
  const cancelled = at.get('cancelled');
  if (confirmed !== undefined) rows.push({ key: 'payment', label: 'Payment authorized', state: 'done', at: confirmed.at, detail: null });
  else if (rejected !== undefined) {
    const declined = rejected.reason !== null && /payment/i.test(rejected.reason);
    rows.push({ key: 'payment', label: declined ? 'Payment declined' : 'Payment not taken', state: 'failed', at: rejected.at, detail: null });
    rows.push({ key: 'rejected', label: 'Order rejected', state: 'failed', at: rejected.at, detail: rejected.reason });
    return rows;
  } else if (cancelled === undefined) rows.push({ key: 'payment', label: 'Taking payment', state: 'current', at: null, detail: null });

  let currentGiven = confirmed === undefined;
  for (const step of FORWARD) {
    const happened = at.get(step.step);
    if (happened !== undefined) rows.push({ key: step.step, label: step.label, state: 'done', at: happened.at, detail: null });
    else if (cancelled !== undefined) break;
    else if (!currentGiven) {
      currentGiven = true;
      rows.push({ key: step.step, label: step.waiting, state: 'current', at: null, detail: null });
    } else rows.push({ key: step.step, label: step.label, state: 'upcoming', at: null, detail: null });
  }
  if (cancelled !== undefined) rows.push({ key: 'cancelled', label: 'Cancelled', state: 'failed', at: cancelled.at, detail: cancelled.reason });
  return rows;
}
