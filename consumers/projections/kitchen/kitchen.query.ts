// Query-side helpers for the kitchen queue:
//   ZRANGE rm:{ks}:kitchen:queue 0 -1 WITHSCORES (oldest first), HGETALL each ticket,
//   then kitchenQueueView(entries, tickets, now) with the query's own clock.
import type { OrderLine } from '../../../schemas/generated/types';
import type { KitchenTicketStatus } from './kitchen.projection';

export interface QueueEntry {
  readonly member: string;
  readonly score: number;
}

export interface KitchenTicketView {
  readonly orderId: string;
  readonly status: KitchenTicketStatus;
  readonly confirmedAt: number;
  readonly preparationStartedAt: number | null;
  /** How long the order has waited since confirmation, at the query's `now`. */
  readonly waitedMs: number;
  readonly lines: readonly OrderLine[];
}

/** Milliseconds since confirmation at `now`; never negative (clocks of the writer and the reader may differ). */
export function waitedMs(confirmedAt: number, now: number): number {
  return Math.max(0, now - confirmedAt);
}

/**
 * The queue, oldest confirmation first (ties by order id, as the sorted set
 * orders them). The sorted set and the tickets are read in two round trips,
 * so an order can leave the board in between: a ticket that is gone or past
 * the kitchen (READY, DISPATCHED) is left out, never shown in a status it no
 * longer has.
 */
export function kitchenQueueView(
  entries: readonly QueueEntry[],
  tickets: readonly Readonly<Record<string, string>>[],
  now: number,
): KitchenTicketView[] {
  const views: KitchenTicketView[] = [];
  entries.forEach((entry, i) => {
    const ticket = tickets[i] ?? {};
    if (ticket.status !== 'CONFIRMED' && ticket.status !== 'PREPARING') return;
    views.push({
      orderId: entry.member,
      status: ticket.status,
      confirmedAt: entry.score,
      preparationStartedAt: ticket.preparationStartedAt === undefined ? null : Number(ticket.preparationStartedAt),
      waitedMs: waitedMs(entry.score, now),
      lines: ticket.lines === undefined ? [] : (JSON.parse(ticket.lines) as OrderLine[]),
    });
  });
  return views;
}
