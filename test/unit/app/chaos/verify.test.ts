import type { LedgerEntry } from '../../../../app/chaos/client';
import type { LoggedEvent } from '../../../../app/chaos/log-reader';
import { verdictProblems, verify } from '../../../../app/chaos/verify';

const ORDERS = 'restaurant.order.events';
const REQUESTS = 'restaurant.payment.requests';
const RESULTS = 'restaurant.payment.results';
let offset = 0;

function event(topic: string, aggregateId: string, version: number, type: string, commandId: string, eventId = `${aggregateId}-${version}`): LoggedEvent {
  offset += 1;
  return {
    topic,
    partition: 0,
    offset,
    key: `${aggregateId}/${version}`,
    type,
    metadata: { eventId, aggregateId, version, occurredAt: 0, commandId, correlationId: 'c', causationId: commandId, actor: null },
    data: {},
  };
}

function accepted(key: string, commandId: string, events: readonly LoggedEvent[]): LedgerEntry {
  return {
    key,
    route: 'POST /orders',
    subject: 'someone',
    status: 200,
    attempts: 1,
    retriedOn: [],
    commandId,
    events: events.map((e) => ({ eventType: e.type, aggregateId: e.metadata.aggregateId, version: e.metadata.version, topic: e.topic, partition: e.partition, offset: e.offset })),
    sentAt: 0,
    answeredAt: 1,
  };
}

/** A whole placed, paid and delivered order: its commands' answers and its log. */
function goodOrder(id: string): { ledger: LedgerEntry[]; events: LoggedEvent[] } {
  const opened = event(ORDERS, id, 1, 'OrderOpened', `${id}-open`);
  const placed = event(ORDERS, id, 2, 'OrderPlaced', `${id}-place`);
  const events = [opened, placed, event(REQUESTS, id, 1, 'PaymentRequested', 'pm'), event(RESULTS, id, 1, 'PaymentAuthorized', 'sim'), event(ORDERS, id, 3, 'OrderConfirmed', 'pm-confirm')];
  return { ledger: [accepted(`${id}-open`, `${id}-open`, [opened]), accepted(`${id}-place`, `${id}-place`, [placed])], events };
}

describe('verify', () => {
  it('finds nothing wrong with a clean history', () => {
    const { ledger, events } = goodOrder('o1');
    const verdict = verify(ledger, events);
    expect(verdictProblems(verdict)).toBe(0);
    expect(verdict.counts).toMatchObject({ commands2xx: 2, ordersPlaced: 1, ordersConfirmed: 1, paymentsAuthorized: 1 });
  });

  it('reports an accepted command whose event is not in the log as lost', () => {
    const { ledger, events } = goodOrder('o1');
    const verdict = verify(ledger, events.filter((e) => e.type !== 'OrderPlaced'));
    expect(verdict.lost).toHaveLength(1);
  });

  it('reports a record written twice, and a command with more events than its answer listed', () => {
    const { ledger, events } = goodOrder('o1');
    const copy = { ...(events[0] as LoggedEvent), offset: 999 };
    expect(verify(ledger, [...events, copy]).duplicates.length).toBeGreaterThan(0);
    const extra = event(ORDERS, 'o1', 4, 'OrderOpened', 'o1-open', 'other');
    expect(verify(ledger, [...events, extra]).duplicates).toEqual([expect.stringContaining('2 events carry command o1-open')]);
  });

  it('reports events of a refused command, and gaps in versions', () => {
    const { ledger, events } = goodOrder('o1');
    const refused: LedgerEntry = { key: 'k', route: 'POST /orders/:id/cancel', subject: 's', status: 409, attempts: 1, retriedOn: [], commandId: 'pm-confirm', sentAt: 0, answeredAt: 1 };
    expect(verify([...ledger, refused], events).refusedButWritten).toHaveLength(1);
    const gap = event(ORDERS, 'o1', 5, 'OrderDelivered', 'x');
    expect(verify(ledger, [...events, gap]).versionGaps).toEqual(['restaurant.order.events|o1: position 4 holds version 5']);
    // Each payment stream is numbered by its one writer: a gap there is a gap too, and two messages in one place a conflict.
    const skipped = event(RESULTS, 'o1', 3, 'RefundIssued', 'sim', 'r1');
    expect(verify(ledger, [...events, skipped]).versionGaps).toEqual(['restaurant.payment.results|o1: position 2 holds version 3']);
    const clash = event(REQUESTS, 'o1', 1, 'RefundRequested', 'pm', 'other');
    expect(verify(ledger, [...events, clash]).versionGaps).toEqual([expect.stringContaining('restaurant.payment.requests|o1: two different events claim one version')]);
  });

  it('reports a placed order with two outcomes, a double refund, and a paid order that did not go ahead without a refund', () => {
    const { ledger, events } = goodOrder('o1');
    expect(verify(ledger, [...events, event(ORDERS, 'o1', 4, 'OrderRejected', 'pm')]).fulfilment).toEqual([expect.stringContaining('2 outcomes')]);
    const cancelled = [...events, event(ORDERS, 'o1', 4, 'OrderCancelled', 'c')];
    expect(verify(ledger, cancelled).fulfilment).toEqual([expect.stringContaining('no refund issued')]);
    const refundedTwice = [...cancelled, event(RESULTS, 'o1', 2, 'RefundIssued', 'sim', 'r1'), event(RESULTS, 'o1', 3, 'RefundIssued', 'sim', 'r2')];
    expect(verify(ledger, refundedTwice).fulfilment).toEqual(expect.arrayContaining([expect.stringContaining('refund issued 2 times')]));
    const unfinished = goodOrder('o2');
    expect(verify(unfinished.ledger, unfinished.events.slice(0, 3)).fulfilment).toEqual([expect.stringContaining('0 outcomes')]);
  });
});
