// Query-side helpers for orders.
//   GET /orders/:id                 -> GET rm:{ks}:orders:order:<id>              -> orderView
//   GET /customers/:id/orders?...   -> ZRANGE rm:{ks}:orders:by-customer:<id> start stop REV (rangeFor(page)),
//                                      then MGET the documents                    -> customerOrdersPage
import type { Address, Money, OrderStatus } from '../../../schemas/generated/types';
import type { PersonalField } from '../../../schemas/sealed';
import { toPage, type Page, type PageOf } from '../shared/pagination';
import type { OrderDocument } from './orders.projection';

/** An order's details and timeline, or null when unknown. */
export function orderView(stored: string | null): OrderDocument | null {
  return stored === null ? null : (JSON.parse(stored) as OrderDocument);
}

export interface OrderSummary {
  readonly orderId: string;
  readonly status: OrderStatus;
  readonly total: Money | null;
  readonly itemCount: number;
  readonly openedAt: number;
  readonly placedAt: number | null;
}

export function orderSummary(doc: OrderDocument): OrderSummary {
  return {
    orderId: doc.orderId,
    status: doc.status,
    total: doc.total,
    itemCount: doc.lines.reduce((n, l) => n + l.quantity, 0),
    openedAt: doc.openedAt,
    placedAt: doc.placedAt,
  };
}

/**
 * One page of a customer's orders, newest first, from the limit + 1 documents
 * read for the ids ZRANGE REV returned (a missing document is left out).
 */
export function customerOrdersPage(documents: readonly (string | null)[], page: Page): PageOf<OrderSummary> {
  const fetched = toPage(documents, page);
  return {
    ...fetched,
    items: fetched.items.map(orderView).filter((d): d is OrderDocument => d !== null).map(orderSummary),
  };
}

/** What the query side needs to show personal fields (infra/privacy/personal-data.ts PersonalDataOpener). */
export interface PersonalFieldOpener {
  open(customerId: string, field: PersonalField, value: string): string;
  openNullable(customerId: string, field: PersonalField, value: string | null): string | null;
  openAddress(customerId: string, address: Address): Address;
}

/**
 * The document with its sealed fields (delivery address, the customer's own
 * cancellation reason) opened with the order's customer's key, or shown as
 * "[forgotten]"/"[unavailable]" (docs/privacy.md). The read model keeps only
 * the sealed values; this runs per request, so a forget masks at once.
 */
export function openOrderDocument(doc: OrderDocument, opener: PersonalFieldOpener): OrderDocument {
  const customer = doc.customerId;
  return {
    ...doc,
    deliveryAddress: doc.deliveryAddress === null ? null : opener.openAddress(customer, doc.deliveryAddress),
    reason: opener.openNullable(customer, 'reason', doc.reason),
    timeline: doc.timeline.map((entry) => (entry.reason === null ? entry : { ...entry, reason: opener.open(customer, 'reason', entry.reason) })),
  };
}
