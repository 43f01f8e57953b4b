import type { LoggedEvent } from '../../../../app/chaos/log-reader';
import { formatReport, type ChaosReport } from '../../../../app/chaos/report';
import { orderTrail, ordersOf, TRAIL_TOPICS, type TrailRecord } from '../../../../app/chaos/trail';
import { fulfilmentIds, initialState } from '../../../../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import type { CommandReply, OrderFulfilmentState } from '../../../../schemas/generated/types';

const ORDER = '678ef47a-8377-8ded-b809-079d7d16d1a0';
const CONFIRM = fulfilmentIds.message(ORDER, 'ConfirmOrder');
const AUTHORIZED_ID = 'authorized-1';

function event(topic: string, type: string, version: number, offset: number, eventId = `${type}-${version}`): LoggedEvent {
  return {
    topic,
    partition: 4,
    offset,
    key: ORDER,
    type,
    metadata: { eventId, aggregateId: ORDER, version, occurredAt: 1_796_575_000_000, commandId: 'c', correlationId: 'c', causationId: 'c', actor: null },
    data: {},
  };
}

/** The run's first order: placed, payment requested and authorized, no outcome. */
const EVENTS: LoggedEvent[] = [
  event('restaurant.order.events', 'OrderOpened', 1, 10),
  event('restaurant.order.events', 'OrderPlaced', 5, 14),
  event('restaurant.payment.requests', 'PaymentRequested', 1, 150),
  event('restaurant.payment.results', 'PaymentAuthorized', 1, 149, AUTHORIZED_ID),
];

function fulfilmentState(changes: Partial<OrderFulfilmentState>, offset = 300): TrailRecord {
  const value = { ...initialState(ORDER), version: 2, paymentId: 'p', paymentAttempts: 1, ...changes };
  return { topic: TRAIL_TOPICS.fulfilment, partition: 4, offset, key: ORDER, type: 'OrderFulfilmentState', value: value as unknown as Record<string, unknown> };
}

const confirmCommand: TrailRecord = {
  topic: TRAIL_TOPICS.commands,
  partition: 4,
  offset: 900,
  key: ORDER,
  type: 'ConfirmOrder',
  value: { metadata: { commandId: CONFIRM, aggregateId: ORDER, correlationId: ORDER, issuedAt: 0, expectedVersion: null, actor: { subject: 'order-fulfilment', roles: ['system'] } } },
};

function reply(status: CommandReply['status'], code: string | null = null): CommandReply {
  return { commandId: CONFIRM, aggregateId: ORDER, commandType: 'ConfirmOrder', status, events: [], rejectionCode: code, rejectionMessage: code === null ? null : 'not placed', aggregateVersion: 5, processedAt: 0 };
}

const confirmed = fulfilmentState({ status: 'CONFIRMED', paymentAuthorized: true, emitted: [fulfilmentIds.message(ORDER, 'PaymentRequested'), CONFIRM], handled: [AUTHORIZED_ID] });
const snapshot = (recent: readonly CommandReply[]): TrailRecord => ({ topic: TRAIL_TOPICS.snapshots, partition: 4, offset: 1_800, key: ORDER, type: 'OrderSnapshot', value: { version: 5, recentCommands: recent } });

describe('the trail of an order without an outcome', () => {
  it('names a command order fulfilment emitted that the processor never decided', () => {
    const trail = orderTrail(ORDER, [confirmed, confirmCommand, snapshot([])], EVENTS);
    expect(trail.stopped).toBe(`the processor never decided ConfirmOrder at ${TRAIL_TOPICS.commands}/4@900: no reply, and the aggregate's state does not remember it`);
    expect(trail.lines.join('\n')).toContain('order fulfilment state v2');
  });

  it("names the processor's refusal, from its reply or from the state that remembers it", () => {
    const replied: TrailRecord = { topic: TRAIL_TOPICS.replies, partition: 1, offset: 7, key: CONFIRM, type: 'CommandReply', value: reply('REJECTED', 'order_not_placed') as unknown as Record<string, unknown> };
    expect(orderTrail(ORDER, [confirmed, confirmCommand, replied], EVENTS).stopped).toMatch(/^the processor refused ConfirmOrder .*order_not_placed/);
    expect(orderTrail(ORDER, [confirmed, confirmCommand, snapshot([reply('REJECTED', 'order_not_placed')])], EVENTS).stopped).toMatch(/^the processor refused ConfirmOrder/);
  });

  it('names a command recorded as emitted that is not on the commands topic', () => {
    expect(orderTrail(ORDER, [confirmed], EVENTS).stopped).toBe(`order fulfilment is CONFIRMED and recorded emitting ConfirmOrder ${CONFIRM}, which is not on ${TRAIL_TOPICS.commands}`);
  });

  it('names a payment result order fulfilment never consumed, and its deadline that never fired', () => {
    const waiting = fulfilmentState({ status: 'AWAITING_PAYMENT', deadlines: [{ name: 'PAYMENT', dueAt: Date.UTC(2026, 11, 6, 17, 0), attempt: 1 }] });
    expect(orderTrail(ORDER, [waiting], EVENTS).stopped).toBe('order fulfilment never consumed PaymentAuthorized at 4@149; its deadline (PAYMENT due 2026-12-06T17:00:00.000Z) never fired');
  });

  it('takes the latest state on the changelog, and says when there is none', () => {
    const older = fulfilmentState({ status: 'AWAITING_PAYMENT' }, 100);
    expect(orderTrail(ORDER, [confirmed, older, confirmCommand], EVENTS).stopped).toMatch(/^the processor never decided/);
    expect(orderTrail(ORDER, [], EVENTS).stopped).toMatch(/^order fulfilment has no state for the order/);
  });

  it('finds the orders in the verifier\'s fulfilment problems', () => {
    expect(ordersOf([`order ${ORDER}: 0 outcomes (OrderPlaced)`, `order ${ORDER}: paid, did not go ahead`, 'order o2: refund issued 2 times'])).toEqual([ORDER, 'o2']);
  });

  it('prints fulfilment problems and trails even when another kind of problem is many', () => {
    const verification = {
      counts: { events: 0, aggregates: 0, commands2xx: 0, commands4xx: 0, commandsUndecided: 0, ordersPlaced: 0, ordersConfirmed: 0, ordersRejected: 0, ordersCancelled: 0, paymentsAuthorized: 0, refundsIssued: 0 },
      lost: [],
      duplicates: Array.from({ length: 40 }, (_, i) => `duplicate ${i}`),
      refusedButWritten: [],
      versionGaps: [],
      fulfilment: [`order ${ORDER}: 0 outcomes (OrderPlaced)`],
      fulfilmentTrails: { [ORDER]: ['stopped: the processor never decided ConfirmOrder'] },
      divergentReadModels: {},
      readModelsNotCaughtUp: {},
      deadLetters: {},
      instancesExited: [],
    };
    const report: ChaosReport = {
      seed: '7',
      layout: 'split',
      kafka: 'k',
      startedAt: '',
      durationMs: 0,
      load: { menuItems: 0, customers: 0, ordersOpened: 0, ordersPlaced: 0, cancelled: 0, prepared: 0, delivered: 0, journeysEndedEarly: 0 },
      faults: [],
      clients: { commands: 0, retried: 0, retriesByCause: {}, failuresByCause: {}, refusalsByCode: {}, slowestCommandMs: 0 },
      verification,
      passed: false,
    };
    const text = formatReport(report);
    expect(text).toContain(`  ! order ${ORDER}: 0 outcomes (OrderPlaced)`);
    expect(text).toContain('    stopped: the processor never decided ConfirmOrder');
    expect(text).toContain('  ! (+30 more of this kind in the JSON report)');
  });
});
