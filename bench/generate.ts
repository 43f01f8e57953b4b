// Synthetic but valid event histories for the benches, as the command
// processor writes them (metadata, versions from 1, ids derived from the
// aggregate and version). Shared by the projection replay and the
// process-manager benches, so both replay the same kind of order.
import type { EventMetadata } from '../schemas/generated/types';

export interface Generated {
  readonly type: string;
  readonly data: Record<string, unknown>;
  readonly metadata: EventMetadata;
}

export const eur = (amountMinor: number) => ({ amountMinor, currency: 'EUR' });
export const address = { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' };

export const meta = (aggregateId: string, version: number, occurredAt: number): EventMetadata => ({
  eventId: `${aggregateId}/${version}`,
  aggregateId,
  version,
  occurredAt,
  commandId: `c-${aggregateId}-${version}`,
  correlationId: `k-${aggregateId}`,
  causationId: `c-${aggregateId}-${version}`,
  actor: null,
});

/** Customers `customer-<i % customers>` order items `item-<i % items>`: the ids the customer and menu generators use. */
export interface OrderShape {
  readonly t0: number;
  /** Time between two orders' first events, and between an order's steps. */
  readonly orderEveryMs: number;
  readonly stepEveryMs: number;
  readonly customers: number;
  readonly items: number;
}

/**
 * 10 events per order: opened, 2 items, address, placed, confirmed, preparing,
 * ready, dispatched, delivered (every 7th cancelled after confirmation: 7
 * events). Stops after `limit.events` events or `limit.orders` orders.
 */
export function* orderEvents(limit: { readonly events?: number; readonly orders?: number }, shape: OrderShape): Generator<Generated> {
  const maxEvents = limit.events ?? Number.POSITIVE_INFINITY;
  const maxOrders = limit.orders ?? Number.POSITIVE_INFINITY;
  let count = 0;
  for (let i = 0; i < maxOrders && count < maxEvents; i += 1) {
    const id = `order-${i}`;
    const at = shape.t0 + i * shape.orderEveryMs;
    const customerId = `customer-${i % shape.customers}`;
    const lines = [
      { menuItemId: `item-${i % shape.items}`, menuItemName: `Dish ${i % shape.items}`, quantity: 1 + (i % 3), unitPrice: eur(950) },
      { menuItemId: `item-${(i + 7) % shape.items}`, menuItemName: `Dish ${(i + 7) % shape.items}`, quantity: 1, unitPrice: eur(300) },
    ];
    const total = eur(lines.reduce((s, l) => s + l.quantity * l.unitPrice.amountMinor, 0));
    const steps: Array<[string, Record<string, unknown>]> = [
      ['OrderOpened', { customerId }],
      ['ItemAddedToOrder', lines[0] as Record<string, unknown>],
      ['ItemAddedToOrder', lines[1] as Record<string, unknown>],
      ['DeliveryAddressSet', { address }],
      ['OrderPlaced', { customerId, lines, deliveryAddress: address, total }],
      ['OrderConfirmed', {}],
      ...(i % 7 === 3
        ? ([['OrderCancelled', { reason: 'bench' }]] as Array<[string, Record<string, unknown>]>)
        : ([['PreparationStarted', {}], ['OrderReady', {}], ['OrderDispatched', {}], ['OrderDelivered', {}]] as Array<[string, Record<string, unknown>]>)),
    ];
    for (let v = 1; v <= steps.length && count < maxEvents; v += 1, count += 1) {
      const [type, data] = steps[v - 1] as [string, Record<string, unknown>];
      yield { type, data, metadata: meta(id, v, at + v * shape.stepEveryMs) };
    }
  }
}

/** 5 events per customer `customer-<i>`: signed up, two addresses, a name change, an address removed. */
export function* customerEvents(n: number, t0 = Date.UTC(2025, 0, 1)): Generator<Generated> {
  for (let i = 0, count = 0; count < n; i += 1) {
    const id = `customer-${i}`;
    const at = t0 + i * 1000;
    const steps: Array<[string, Record<string, unknown>]> = [
      ['CustomerSignedUp', { name: `Customer ${i}`, email: `c${i}@example.com` }],
      ['DeliveryAddressAdded', { addressId: 'home', address }],
      ['DeliveryAddressAdded', { addressId: 'work', address }],
      ['CustomerNameChanged', { name: `Renamed ${i}` }],
      ['DeliveryAddressRemoved', { addressId: 'work' }],
    ];
    for (let v = 1; v <= steps.length && count < n; v += 1, count += 1) {
      const [type, data] = steps[v - 1] as [string, Record<string, unknown>];
      yield { type, data, metadata: meta(id, v, at + v) };
    }
  }
}
