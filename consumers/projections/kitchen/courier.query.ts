// Query-side helpers for the courier queue:
//   ZRANGE rm:{ks}:kitchen:courier 0 -1 WITHSCORES (oldest readyAt first), HGETALL each ticket,
//   then courierQueueView(entries, tickets, now) with the query's own clock.
import type { Address, OrderLine } from '../../../schemas/generated/types';
import type { CourierEntryStatus } from './kitchen.projection';
import { waitedMs, type QueueEntry } from './kitchen.query';

export interface CourierEntryView {
  readonly orderId: string;
  readonly status: CourierEntryStatus;
  readonly readyAt: number;
  readonly dispatchedAt: number | null;
  /** How long the order has waited since it was ready, at the query's `now`. */
  readonly waitedMs: number;
  readonly deliveryAddress: Address | null;
  readonly lines: readonly OrderLine[];
}

/**
 * Ready and dispatched orders, oldest readiness first (ties by order id, as
 * the sorted set orders them). As on the board, a ticket that went away
 * between the two reads (delivered, cancelled) is left out.
 */
/** Opens a sealed delivery address with its customer's key (the query API's PersonalFieldOpener.openAddress). */
export type AddressOpener = (customerId: string, address: Address) => Address;

export function courierQueueView(
  entries: readonly QueueEntry[],
  tickets: readonly Readonly<Record<string, string>>[],
  now: number,
  openAddress?: AddressOpener,
): CourierEntryView[] {
  const views: CourierEntryView[] = [];
  entries.forEach((entry, i) => {
    const ticket = tickets[i] ?? {};
    if (ticket.status !== 'READY' && ticket.status !== 'DISPATCHED') return;
    const sealed = ticket.deliveryAddress === undefined ? null : (JSON.parse(ticket.deliveryAddress) as Address);
    // A ticket projected before it carried its customer's id keeps the address as stored (a replay of the kitchen model adds the id).
    const deliveryAddress = sealed === null || openAddress === undefined || ticket.customerId === undefined ? sealed : openAddress(ticket.customerId, sealed);
    views.push({
      orderId: entry.member,
      status: ticket.status,
      readyAt: entry.score,
      dispatchedAt: ticket.dispatchedAt === undefined ? null : Number(ticket.dispatchedAt),
      waitedMs: waitedMs(entry.score, now),
      deliveryAddress,
      lines: ticket.lines === undefined ? [] : (JSON.parse(ticket.lines) as OrderLine[]),
    });
  });
  return views;
}
