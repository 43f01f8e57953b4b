// Kitchen board and courier queue: one read model over the orders' fulfilment.
//
// Board: confirmed orders not yet ready, oldest confirmation first. An order
// enters on OrderConfirmed and leaves on OrderReady, OrderCancelled or
// OrderRejected. What to cook comes from OrderPlaced (OrderConfirmed carries
// no lines), so the ticket is written at placement and the order only joins
// the board when confirmed.
//
// Courier queue: the same ticket, from OrderReady (it moves from the board to
// the courier queue) through OrderDispatched until OrderDelivered or
// OrderCancelled removes it; where to go is the address OrderPlaced carried.
//
// Blind writes only: no read before a batch.
import type { EventMetadata } from '../../../schemas/generated/types';
import type { OrderEvent } from '../../../schemas/messages';
import { del, hset, zadd, zrem, type WriteOp } from '../shared/ops';
import type { Projection, ProjectionStep } from '../shared/projection';
import { kitchenKeys } from './kitchen.keys';
import { assertNever } from '../../../kernel/assert-never';

export type KitchenTicketStatus = 'CONFIRMED' | 'PREPARING';
export type CourierEntryStatus = 'READY' | 'DISPATCHED';

type KitchenEvent = Extract<
  OrderEvent,
  { type: 'OrderPlaced' | 'OrderConfirmed' | 'PreparationStarted' | 'OrderReady' | 'OrderDispatched' | 'OrderDelivered' | 'OrderCancelled' | 'OrderRejected' }
>;

const KITCHEN_EVENTS: ReadonlySet<OrderEvent['type']> = new Set<KitchenEvent['type']>([
  'OrderPlaced',
  'OrderConfirmed',
  'PreparationStarted',
  'OrderReady',
  'OrderDispatched',
  'OrderDelivered',
  'OrderCancelled',
  'OrderRejected',
]);

const isKitchenEvent = (event: OrderEvent): event is KitchenEvent => KITCHEN_EVENTS.has(event.type);

export function kitchenOps(event: OrderEvent, metadata: EventMetadata, keyspace: string): WriteOp[] {
  if (!isKitchenEvent(event)) return [];
  const keys = kitchenKeys(keyspace);
  const orderId = metadata.aggregateId;
  const ticket = keys.ticket(orderId);
  const at = String(metadata.occurredAt);
  switch (event.type) {
    case 'OrderPlaced':
      // The customer's id goes with the sealed address: it is the key that opens it (docs/privacy.md).
      return [hset(ticket, { orderId, customerId: event.data.customerId, lines: JSON.stringify(event.data.lines), deliveryAddress: JSON.stringify(event.data.deliveryAddress), placedAt: at })];
    case 'OrderConfirmed':
      return [hset(ticket, { confirmedAt: at, status: 'CONFIRMED' }), zadd(keys.queue, metadata.occurredAt, orderId)];
    case 'PreparationStarted':
      return [hset(ticket, { status: 'PREPARING', preparationStartedAt: at })];
    case 'OrderReady':
      return [zrem(keys.queue, orderId), hset(ticket, { status: 'READY', readyAt: at }), zadd(keys.courier, metadata.occurredAt, orderId)];
    case 'OrderDispatched':
      return [hset(ticket, { status: 'DISPATCHED', dispatchedAt: at })];
    case 'OrderDelivered':
    case 'OrderCancelled':
    case 'OrderRejected':
      // Cancelled while still open never had a ticket: ZREM/DEL of nothing is a no-op.
      return [zrem(keys.queue, orderId), zrem(keys.courier, orderId), del(ticket)];
    default:
      return assertNever(event, 'kitchen event');
  }
}

export const kitchenProjection: Projection<OrderEvent, null> = {
  readModel: 'kitchen',
  handles: KITCHEN_EVENTS,
  stateKey: () => null,
  initialState: null,
  apply: (_state, event, metadata, keyspace): ProjectionStep<null> => ({ state: null, ops: kitchenOps(event, metadata, keyspace) }),
};
