// Orders read model: an order's details and timeline as one JSON document,
// and each customer's orders newest first.
//
// The document is a read-modify-write model: OrderConfirmed and friends carry
// no data, so the next document is `evolveOrder(previous, event, metadata)`.
// The runtime reads the documents of a batch's orders (one MGET) before it
// writes; the document doubles as the projection's state.
import type { Address, EventMetadata, Money, OrderLine, OrderStatus } from '../../../schemas/generated/types';
import type { OrderEvent } from '../../../schemas/messages';
import { setJson, zadd, type WriteOp } from '../shared/ops';
import type { Projection, ProjectionStep } from '../shared/projection';
import { ordersKeys } from './orders.keys';
import { assertNever } from '../../../kernel/assert-never';

export const TIMELINE_STEPS = [
  'opened',
  'placed',
  'confirmed',
  'rejected',
  'preparation_started',
  'ready',
  'dispatched',
  'delivered',
  'cancelled',
] as const;
export type TimelineStep = (typeof TIMELINE_STEPS)[number];

export interface TimelineEntry {
  readonly step: TimelineStep;
  /** occurredAt of the event, epoch ms UTC. */
  readonly at: number;
  /** Aggregate version of the event. */
  readonly version: number;
  /** Why, for rejected and cancelled; null otherwise. */
  readonly reason: string | null;
}

export interface OrderDocument {
  readonly orderId: string;
  readonly customerId: string;
  readonly status: OrderStatus;
  /** Lines in the order they were added, with the unit price captured then. */
  readonly lines: readonly OrderLine[];
  /** Sum of quantity x unit price: the placed total once placed, the running basket total before; null for an empty basket. */
  readonly total: Money | null;
  readonly deliveryAddress: Address | null;
  /** Why the order was rejected or cancelled; null otherwise. */
  readonly reason: string | null;
  readonly openedAt: number;
  readonly placedAt: number | null;
  readonly updatedAt: number;
  /** Aggregate version this document reflects (usable as an ETag). */
  readonly version: number;
  /** Every lifecycle step that happened, in order. */
  readonly timeline: readonly TimelineEntry[];
}

/** Sort key of an order in its customer's list: the time it was opened (set once, so pages do not shift when an order is placed). */
export function customerOrderScore(doc: Pick<OrderDocument, 'openedAt'>): number {
  return doc.openedAt;
}

function basketTotal(lines: readonly OrderLine[]): Money | null {
  const first = lines[0];
  if (first === undefined) return null;
  return { amountMinor: lines.reduce((sum, l) => sum + l.quantity * l.unitPrice.amountMinor, 0), currency: first.unitPrice.currency };
}

/** What an event changes in the document, besides updatedAt and version (undefined: unchanged). */
type Revision = { readonly [K in keyof OrderDocument]?: OrderDocument[K] };

/**
 * The document after an event: every field written out in one object literal,
 * so every document has the same shape and a replay's hundreds of thousands
 * of them stay on V8's fast paths (spreading documents of varying shapes did not).
 */
function revised(doc: OrderDocument, metadata: EventMetadata, r: Revision): OrderDocument {
  return {
    orderId: doc.orderId,
    customerId: doc.customerId,
    status: r.status ?? doc.status,
    lines: r.lines ?? doc.lines,
    total: r.total === undefined ? doc.total : r.total,
    deliveryAddress: r.deliveryAddress === undefined ? doc.deliveryAddress : r.deliveryAddress,
    reason: r.reason === undefined ? doc.reason : r.reason,
    openedAt: doc.openedAt,
    placedAt: r.placedAt === undefined ? doc.placedAt : r.placedAt,
    updatedAt: metadata.occurredAt,
    version: metadata.version,
    timeline: r.timeline ?? doc.timeline,
  };
}

function stepped(doc: OrderDocument, status: OrderStatus, step: TimelineStep, metadata: EventMetadata, reason: string | null = null, more: Revision = {}): OrderDocument {
  const entry: TimelineEntry = { step, at: metadata.occurredAt, version: metadata.version, reason };
  return revised(doc, metadata, { ...more, status, reason: reason ?? doc.reason, timeline: [...doc.timeline, entry] });
}

/** The pure read model: the order document after one more event (null: no order yet). */
export function evolveOrder(doc: OrderDocument | null, event: OrderEvent, metadata: EventMetadata): OrderDocument | null {
  if (event.type === 'OrderOpened') {
    const at = metadata.occurredAt;
    return {
      orderId: metadata.aggregateId,
      customerId: event.data.customerId,
      status: 'OPEN',
      lines: [],
      total: null,
      deliveryAddress: null,
      reason: null,
      openedAt: at,
      placedAt: null,
      updatedAt: at,
      version: metadata.version,
      timeline: [{ step: 'opened', at, version: metadata.version, reason: null }],
    };
  }
  // An event for an order this read model never saw opened (e.g. a history
  // erased by a tombstone) has nothing to attach to.
  if (doc === null) return null;
  switch (event.type) {
    case 'ItemAddedToOrder': {
      const lines = [...doc.lines, event.data];
      return revised(doc, metadata, { lines, total: basketTotal(lines) });
    }
    case 'ItemRemovedFromOrder': {
      const lines = doc.lines.filter((l) => l.menuItemId !== event.data.menuItemId);
      return revised(doc, metadata, { lines, total: basketTotal(lines) });
    }
    case 'DeliveryAddressSet':
      return revised(doc, metadata, { deliveryAddress: event.data.address });
    case 'OrderPlaced': {
      const { lines, deliveryAddress, total } = event.data;
      return stepped(doc, 'PLACED', 'placed', metadata, null, { lines, deliveryAddress, total, placedAt: metadata.occurredAt });
    }
    case 'OrderConfirmed':
      return stepped(doc, 'CONFIRMED', 'confirmed', metadata);
    case 'OrderRejected':
      return stepped(doc, 'REJECTED', 'rejected', metadata, event.data.reason);
    case 'PreparationStarted':
      return stepped(doc, 'PREPARING', 'preparation_started', metadata);
    case 'OrderReady':
      return stepped(doc, 'READY', 'ready', metadata);
    case 'OrderDispatched':
      return stepped(doc, 'DISPATCHED', 'dispatched', metadata);
    case 'OrderDelivered':
      return stepped(doc, 'DELIVERED', 'delivered', metadata);
    case 'OrderCancelled':
      return stepped(doc, 'CANCELLED', 'cancelled', metadata, event.data.reason);
    default:
      return assertNever(event, 'order event');
  }
}

export function applyOrder(
  doc: OrderDocument | null,
  event: OrderEvent,
  metadata: EventMetadata,
  keyspace: string,
): ProjectionStep<OrderDocument | null> {
  const next = evolveOrder(doc, event, metadata);
  if (next === null) return { state: doc, ops: [] };
  const keys = ordersKeys(keyspace);
  const ops: WriteOp[] = [setJson(keys.order(next.orderId), next)];
  if (event.type === 'OrderOpened') ops.push(zadd(keys.byCustomer(next.customerId), customerOrderScore(next), next.orderId));
  return { state: next, ops };
}

export const ordersProjection: Projection<OrderEvent, OrderDocument | null> = {
  readModel: 'orders',
  handles: new Set<OrderEvent['type']>([
    'OrderOpened',
    'ItemAddedToOrder',
    'ItemRemovedFromOrder',
    'DeliveryAddressSet',
    'OrderPlaced',
    'OrderConfirmed',
    'OrderRejected',
    'PreparationStarted',
    'OrderReady',
    'OrderDispatched',
    'OrderDelivered',
    'OrderCancelled',
  ]),
  stateKey: (keyspace, orderId) => ordersKeys(keyspace).order(orderId),
  initialState: null,
  apply: applyOrder,
};
