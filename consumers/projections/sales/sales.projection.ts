// Sales read model: revenue (per currency) and order count per UTC day, and
// quantity and revenue per menu item per day, kept as counters in per-day
// buckets so any [from, to] range is the sum of its days.
//
// Counting rules (docs/read-models.md):
// * an order counts when it is CONFIRMED, on the UTC day of OrderConfirmed's
//   occurredAt, with the lines and total of its OrderPlaced;
// * an order cancelled after confirmation is subtracted by a compensating
//   entry on the UTC day of the cancellation (days already reported are never
//   restated; the cancellation day can show a negative net); the day also
//   counts the cancellation (`cancelled`, `cancelledRevenue:<CUR>`);
// * rejected orders and orders cancelled before confirmation never count.
//
// OrderConfirmed carries no amounts, so this projection keeps per-order state
// (what was placed, and the day it was counted) from OrderPlaced until the
// order can no longer change the figures. The counters are HINCRBYs: they are
// correct only because the runtime applies each event of an order at most
// once (the version guard), never because the op itself is idempotent.
import type { EventMetadata, Money, OrderLine } from '../../../schemas/generated/types';
import type { OrderEvent } from '../../../schemas/messages';
import { del, hincrby, hset, setJson, type WriteOp } from '../shared/ops';
import type { Projection, ProjectionStep } from '../shared/projection';
import { utcDay } from '../shared/utc-day';
import { SALES_FIELDS as F, salesKeys } from './sales.keys';

export interface SalesOrderState {
  /** What the order was placed with; null until OrderPlaced. */
  readonly placed: { readonly total: Money; readonly lines: readonly OrderLine[] } | null;
  /** The UTC day the order was counted on; null until OrderConfirmed. */
  readonly countedOn: string | null;
}

export const initialSalesState: SalesOrderState = { placed: null, countedOn: null };

const SALES_EVENTS: ReadonlySet<OrderEvent['type']> = new Set<OrderEvent['type']>([
  'OrderPlaced',
  'OrderConfirmed',
  'OrderCancelled',
  'OrderRejected',
  'OrderDispatched',
]);

/** The counter writes adding (+1) or subtracting (-1) one order on one day. */
export function contributionOps(keyspace: string, day: string, placed: NonNullable<SalesOrderState['placed']>, sign: 1 | -1): WriteOp[] {
  const keys = salesKeys(keyspace);
  const dayKey = keys.day(day);
  const itemsKey = keys.items(day);
  const ops: WriteOp[] = [
    hincrby(dayKey, F.orders, sign),
    hincrby(dayKey, sign === 1 ? F.confirmed : F.cancelled, 1),
    hincrby(dayKey, F.revenue(placed.total.currency), sign * placed.total.amountMinor),
  ];
  if (sign === -1) ops.push(hincrby(dayKey, F.cancelledRevenue(placed.total.currency), placed.total.amountMinor));
  for (const l of placed.lines) {
    ops.push(
      hincrby(itemsKey, F.itemQuantity(l.menuItemId), sign * l.quantity),
      hincrby(itemsKey, F.itemRevenue(l.unitPrice.currency, l.menuItemId), sign * l.quantity * l.unitPrice.amountMinor),
      hset(itemsKey, { [F.itemName(l.menuItemId)]: l.menuItemName }),
    );
  }
  return ops;
}

export function applySales(state: SalesOrderState, event: OrderEvent, metadata: EventMetadata, keyspace: string): ProjectionStep<SalesOrderState> {
  const stateKey = salesKeys(keyspace).order(metadata.aggregateId);
  const save = (next: SalesOrderState, ops: WriteOp[] = []): ProjectionStep<SalesOrderState> => ({ state: next, ops: [...ops, setJson(stateKey, next)] });
  const forget = (ops: WriteOp[] = []): ProjectionStep<SalesOrderState> => ({ state: initialSalesState, ops: [...ops, del(stateKey)] });
  switch (event.type) {
    case 'OrderPlaced':
      return save({ placed: { total: event.data.total, lines: event.data.lines }, countedOn: null });
    case 'OrderConfirmed': {
      if (state.placed === null || state.countedOn !== null) return { state, ops: [] };
      const day = utcDay(metadata.occurredAt);
      return save({ ...state, countedOn: day }, contributionOps(keyspace, day, state.placed, 1));
    }
    case 'OrderCancelled':
      if (state.placed === null || state.countedOn === null) return forget();
      return forget(contributionOps(keyspace, utcDay(metadata.occurredAt), state.placed, -1));
    case 'OrderRejected':
    case 'OrderDispatched':
      // Rejected: never counted. Dispatched: can no longer be cancelled, the figures are final.
      return forget();
    default:
      return { state, ops: [] };
  }
}

export const salesProjection: Projection<OrderEvent, SalesOrderState> = {
  readModel: 'sales',
  handles: SALES_EVENTS,
  stateKey: (keyspace, orderId) => salesKeys(keyspace).order(orderId),
  initialState: initialSalesState,
  apply: applySales,
};
