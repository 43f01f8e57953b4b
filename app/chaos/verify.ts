// The chaos run's verdict, from the client's ledger and the verifier's own
// reading of the log (pure: the same inputs, the same verdict; unit-tested).
//
// * every command answered 2xx has its events in the log exactly once: each
//   event the answer lists is there, carries the command's id, and no other
//   record carries it;
// * no command answered 4xx by the processor has any event;
// * every stream's versions run 1..N with no gap and no duplicate (an
//   aggregate's events, and each of an order's two payment streams: the
//   requests order fulfilment writes and the results the provider writes);
// * every placed order reached exactly one outcome (confirmed, rejected or
//   cancelled before confirmation), with no payment authorized and no refund
//   issued twice, and a refund for every authorized payment of an order that
//   did not go ahead.
import type { LedgerEntry } from './client';
import type { LoggedEvent } from './log-reader';

export interface Verdict {
  readonly counts: {
    readonly events: number;
    readonly aggregates: number;
    readonly commands2xx: number;
    readonly commands4xx: number;
    readonly commandsUndecided: number;
    readonly ordersPlaced: number;
    readonly ordersConfirmed: number;
    readonly ordersRejected: number;
    readonly ordersCancelled: number;
    readonly paymentsAuthorized: number;
    readonly refundsIssued: number;
  };
  /** Accepted (2xx) commands with an event missing from the log. */
  readonly lost: string[];
  /** Records written more than once, or events beyond what a command's answer listed. */
  readonly duplicates: string[];
  /** Events of commands the processor refused (4xx). */
  readonly refusedButWritten: string[];
  readonly versionGaps: string[];
  readonly fulfilment: string[];
}

export const verdictProblems = (v: Verdict): number => v.lost.length + v.duplicates.length + v.refusedButWritten.length + v.versionGaps.length + v.fulfilment.length;

/** The order's payment requests (order fulfilment's) and the provider's results: one writer each. */
const PAYMENT_TOPICS: ReadonlySet<string> = new Set(['restaurant.payment.requests', 'restaurant.payment.results']);

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) map.set(key(item), [...(map.get(key(item)) ?? []), item]);
  return map;
}

export function verify(ledger: readonly LedgerEntry[], events: readonly LoggedEvent[]): Verdict {
  const lost: string[] = [];
  const duplicates: string[] = [];
  const refusedButWritten: string[] = [];
  const versionGaps: string[] = [];
  const fulfilment: string[] = [];

  // A record written twice (same topic, key and event id at two offsets) is a duplicate in itself.
  for (const [identity, copies] of groupBy(events, (e) => `${e.topic}|${e.key}|${e.metadata.eventId}`)) {
    if (copies.length > 1) duplicates.push(`${identity} written ${copies.length} times (offsets ${copies.map((c) => `${c.partition}@${c.offset}`).join(', ')})`);
  }
  const byCommand = groupBy(events, (e) => e.metadata.commandId);
  const at = new Map(events.map((e) => [`${e.topic}|${e.partition}|${e.offset}`, e]));

  let commands2xx = 0;
  let commands4xx = 0;
  let commandsUndecided = 0;
  for (const entry of ledger) {
    const what = `${entry.route} key ${entry.key}`;
    if (entry.status >= 200 && entry.status < 300) {
      commands2xx += 1;
      const listed = entry.events ?? [];
      for (const position of listed) {
        const found = at.get(`${position.topic}|${position.partition}|${position.offset}`);
        if (found === undefined || found.metadata.aggregateId !== position.aggregateId || found.metadata.version !== position.version) {
          lost.push(`${what}: ${position.eventType} ${position.aggregateId}/${position.version} not at ${position.topic}/${position.partition}@${position.offset}`);
        } else if (found.metadata.commandId !== entry.commandId) {
          lost.push(`${what}: ${position.topic}/${position.partition}@${position.offset} belongs to command ${found.metadata.commandId}, not ${String(entry.commandId)}`);
        }
      }
      const written = new Set((byCommand.get(entry.commandId ?? '') ?? []).map((e) => `${e.metadata.aggregateId}/${e.metadata.version}`));
      if (written.size > listed.length) duplicates.push(`${what}: ${written.size} events carry command ${String(entry.commandId)}, its answer listed ${listed.length}`);
    } else if (entry.status >= 400 && entry.status < 500) {
      commands4xx += 1;
      const written = entry.commandId === undefined ? [] : (byCommand.get(entry.commandId) ?? []);
      if (written.length > 0) refusedButWritten.push(`${what} answered ${entry.status} ${entry.errorCode ?? ''}, yet ${written.map((e) => `${e.type} ${e.key}`).join(', ')} carry its command id`);
    } else {
      commandsUndecided += 1;
    }
  }

  const aggregates = groupBy(events, (e) => `${e.topic}|${e.metadata.aggregateId}`);
  for (const [id, list] of aggregates) {
    const versions = [...new Set(list.map((e) => e.metadata.version))].sort((a, b) => a - b);
    const distinctEvents = new Set(list.map((e) => `${e.metadata.version}|${e.metadata.eventId}`));
    if (distinctEvents.size > versions.length) versionGaps.push(`${id}: two different events claim one version (${[...distinctEvents].sort().join(', ')})`);
    versions.forEach((v, i) => {
      if (v !== i + 1) versionGaps.push(`${id}: position ${i + 1} holds version ${v}`);
    });
  }

  const orderEvents = groupBy(
    events.filter((e) => e.topic === 'restaurant.order.events'),
    (e) => e.metadata.aggregateId,
  );
  const payments = groupBy(
    events.filter((e) => PAYMENT_TOPICS.has(e.topic)),
    (e) => e.metadata.aggregateId,
  );
  const distinctOf = (list: readonly LoggedEvent[], type: string): number => new Set(list.filter((e) => e.type === type).map((e) => e.metadata.eventId)).size;
  let ordersPlaced = 0;
  let ordersConfirmed = 0;
  let ordersRejected = 0;
  let ordersCancelled = 0;
  let paymentsAuthorized = 0;
  let refundsIssued = 0;
  for (const [orderId, list] of orderEvents) {
    if (distinctOf(list, 'OrderPlaced') === 0) continue;
    ordersPlaced += 1;
    const types = [...list].sort((a, b) => a.metadata.version - b.metadata.version).map((e) => e.type);
    const confirmed = types.indexOf('OrderConfirmed');
    const rejected = types.includes('OrderRejected');
    const cancelled = types.indexOf('OrderCancelled');
    const outcomes = [confirmed >= 0, rejected, cancelled >= 0 && (confirmed < 0 || cancelled < confirmed)].filter(Boolean).length;
    if (confirmed >= 0) ordersConfirmed += 1;
    if (rejected) ordersRejected += 1;
    if (cancelled >= 0) ordersCancelled += 1;
    if (outcomes !== 1) fulfilment.push(`order ${orderId}: ${outcomes} outcomes (${types.join(', ')})`);
    const payment = payments.get(orderId) ?? [];
    const authorized = distinctOf(payment, 'PaymentAuthorized');
    const refunded = distinctOf(payment, 'RefundIssued');
    paymentsAuthorized += authorized;
    refundsIssued += refunded;
    if (distinctOf(payment, 'PaymentRequested') > 1) fulfilment.push(`order ${orderId}: payment requested ${distinctOf(payment, 'PaymentRequested')} times`);
    if (authorized > 1) fulfilment.push(`order ${orderId}: payment authorized ${authorized} times`);
    if (authorized > 0 && distinctOf(payment, 'PaymentDeclined') > 0) fulfilment.push(`order ${orderId}: payment both authorized and declined`);
    if (refunded > 1) fulfilment.push(`order ${orderId}: refund issued ${refunded} times`);
    if (refunded > 0 && authorized === 0) fulfilment.push(`order ${orderId}: refunded without an authorized payment`);
    const wentAhead = confirmed >= 0 && !(cancelled > confirmed);
    if (authorized > 0 && !wentAhead && refunded === 0) {
      const streams = [...payment].sort((a, b) => a.topic.localeCompare(b.topic) || a.metadata.version - b.metadata.version).map((e) => `${e.type}@${e.partition}/${e.offset}`);
      fulfilment.push(`order ${orderId}: paid, did not go ahead (${types.join(', ')}), and no refund issued (payment streams: ${streams.join(', ')})`);
    }
  }

  return {
    counts: {
      events: events.length,
      aggregates: aggregates.size,
      commands2xx,
      commands4xx,
      commandsUndecided,
      ordersPlaced,
      ordersConfirmed,
      ordersRejected,
      ordersCancelled,
      paymentsAuthorized,
      refundsIssued,
    },
    lost,
    duplicates,
    refusedButWritten,
    versionGaps,
    fulfilment,
  };
}
