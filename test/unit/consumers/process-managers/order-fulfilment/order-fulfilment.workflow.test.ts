import {
  decide,
  DEFAULT_FULFILMENT_CONFIG,
  FULFILMENT_ACTOR,
  fromStateRecord,
  fulfilmentIds,
  initialState,
  isTerminal,
  nextDeadline,
  requestVersion,
  run,
  type Emitted,
  type FulfilmentConfig,
  type FulfilmentInput,
  type PlacementFacts,
} from '../../../../../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import type { EventMetadata, FulfilmentDeadlineName, Money, OrderFulfilmentState, OrderLine } from '../../../../../schemas/generated/types';
import { loadSchemas } from '../../../../../schemas/loader';
import { toCommandRecord, toEventRecord } from '../../../../../schemas/messages';
import { systemActor } from '../../../../../schemas/roles';
import { deterministicId } from '../../../../../kernel/deterministic-id';

const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const ORDER = 'o-1';
const eur = (amountMinor: number): Money => ({ amountMinor, currency: 'EUR' });
const pizza: OrderLine = { menuItemId: 'm-pizza', menuItemName: 'Margherita', quantity: 2, unitPrice: eur(950) };
const wine: OrderLine = { menuItemId: 'm-wine', menuItemName: 'Barolo', quantity: 1, unitPrice: eur(1200) };
const TOTAL = eur(3100);
const PAYMENT_ID = fulfilmentIds.payment(ORDER);
const REFUND_ID = fulfilmentIds.refund(ORDER);
const config: FulfilmentConfig = { ...DEFAULT_FULFILMENT_CONFIG, paymentTimeoutMs: 5 * MINUTE, maxPaymentRequests: 1, refundTimeoutMs: 10 * MINUTE, maxRefundRequests: 2 };
const PAYMENT_DUE = T0 + 5 * MINUTE;

const okFacts: PlacementFacts = { customerExists: true, menuItems: { 'm-pizza': 'AVAILABLE', 'm-wine': 'AVAILABLE' } };

function orderMeta(version: number, at: number): EventMetadata {
  const eventId = `e-${ORDER}-${version}`;
  return { eventId, aggregateId: ORDER, version, occurredAt: at, commandId: `cmd-${version}`, correlationId: 'corr-o-1', causationId: `cmd-${version}`, actor: null };
}
/** The provider numbers its own results stream per order: the payment's answer first, then the refund. */
const RESULT_VERSIONS = { PaymentAuthorized: 1, PaymentDeclined: 1, RefundIssued: 2 } as const;
function paymentMeta(type: keyof typeof RESULT_VERSIONS, at: number): EventMetadata {
  const eventId = `e-provider-${type}`;
  return { eventId, aggregateId: ORDER, version: RESULT_VERSIONS[type], occurredAt: at, commandId: eventId, correlationId: 'corr-o-1', causationId: 'x', actor: null };
}

const placed = (facts: PlacementFacts = okFacts, version = 5): FulfilmentInput => ({
  type: 'OrderPlaced',
  data: { customerId: 'c-1', lines: [pizza, wine], deliveryAddress: { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' }, total: TOTAL },
  metadata: orderMeta(version, T0),
  facts,
});
const confirmed = (version: number, at: number): FulfilmentInput => ({ type: 'OrderConfirmed', data: {}, metadata: orderMeta(version, at) });
const rejected = (version: number, at: number, reason: string): FulfilmentInput => ({ type: 'OrderRejected', data: { reason }, metadata: orderMeta(version, at) });
const cancelled = (version: number, at: number, reason: string): FulfilmentInput => ({ type: 'OrderCancelled', data: { reason }, metadata: orderMeta(version, at) });
const delivered = (version: number, at: number): FulfilmentInput => ({ type: 'OrderDelivered', data: {}, metadata: orderMeta(version, at) });
const authorized = (at: number, paymentId = PAYMENT_ID): FulfilmentInput => ({
  type: 'PaymentAuthorized',
  data: { orderId: ORDER, paymentId, amount: TOTAL },
  metadata: paymentMeta('PaymentAuthorized', at),
});
const declined = (at: number): FulfilmentInput => ({
  type: 'PaymentDeclined',
  data: { orderId: ORDER, paymentId: PAYMENT_ID, amount: TOTAL, reason: 'insufficient funds' },
  metadata: paymentMeta('PaymentDeclined', at),
});
const refunded = (at: number): FulfilmentInput => ({
  type: 'RefundIssued',
  data: { orderId: ORDER, paymentId: PAYMENT_ID, refundId: REFUND_ID, amount: TOTAL },
  metadata: paymentMeta('RefundIssued', at),
});
const due = (name: FulfilmentDeadlineName, dueAt: number): FulfilmentInput => ({ type: 'DeadlineReached', orderId: ORDER, name, dueAt });

/** What a test cares about in an emitted message: its type, payload and id. */
function summary(e: Emitted): { type: string; data: unknown; id: string } {
  return e.kind === 'command'
    ? { type: e.command.type, data: e.command.data, id: e.metadata.commandId }
    : { type: e.event.type, data: e.event.data, id: e.metadata.eventId };
}
const id = (type: string): string => deterministicId(ORDER, 'order-fulfilment', type);
const paymentRequested = { type: 'PaymentRequested', data: { orderId: ORDER, paymentId: PAYMENT_ID, customerId: 'c-1', amount: TOTAL }, id: id('PaymentRequested') };
const confirmOrder = { type: 'ConfirmOrder', data: {}, id: id('ConfirmOrder') };
const rejectOrder = (reason: string) => ({ type: 'RejectOrder', data: { reason }, id: id('RejectOrder') });
const cancelOrder = { type: 'CancelOrder', data: { reason: 'payment timed out' }, id: id('CancelOrder') };
const refundRequested = (reason: string) => ({ type: 'RefundRequested', data: { orderId: ORDER, paymentId: PAYMENT_ID, refundId: REFUND_ID, amount: TOTAL, reason }, id: id('RefundRequested') });

/** given(history).when(input).then(emitted) — the workflow-test idiom of the house style. */
function given(...history: FulfilmentInput[]) {
  const before = run(history, initialState(ORDER), config).state;
  return {
    state: before,
    when(input: FulfilmentInput) {
      const decision = decide(input, before, config);
      return {
        decision,
        then(expected: ReturnType<typeof summary>[]): OrderFulfilmentState {
          expect(decision.emit.map(summary)).toEqual(expected);
          return decision.state;
        },
        thenNothing(): OrderFulfilmentState {
          expect(decision.emit).toEqual([]);
          return decision.state;
        },
      };
    },
  };
}

/** Every path the tests walk, with the terminal status it must end in. */
const PATHS: Record<string, { inputs: FulfilmentInput[]; terminal: OrderFulfilmentState['status']; emits: string[] }> = {
  happy: {
    inputs: [placed(), authorized(T0 + 20 * SECOND), confirmed(6, T0 + 21 * SECOND), delivered(10, T0 + 50 * MINUTE)],
    terminal: 'COMPLETED',
    emits: ['PaymentRequested', 'ConfirmOrder'],
  },
  'sold out': {
    inputs: [placed({ ...okFacts, menuItems: { 'm-pizza': 'SOLD_OUT', 'm-wine': 'AVAILABLE' } }), rejected(6, T0 + SECOND, 'Margherita is sold out')],
    terminal: 'REJECTED',
    emits: ['RejectOrder'],
  },
  declined: {
    inputs: [placed(), declined(T0 + 20 * SECOND), rejected(6, T0 + 21 * SECOND, 'payment declined: insufficient funds')],
    terminal: 'REJECTED',
    emits: ['PaymentRequested', 'RejectOrder'],
  },
  'timed out': {
    inputs: [placed(), due('PAYMENT', PAYMENT_DUE), cancelled(6, PAYMENT_DUE + SECOND, 'payment timed out')],
    terminal: 'TIMED_OUT',
    emits: ['PaymentRequested', 'CancelOrder'],
  },
  'authorized after the timeout': {
    inputs: [placed(), due('PAYMENT', PAYMENT_DUE), cancelled(6, PAYMENT_DUE + SECOND, 'payment timed out'), authorized(PAYMENT_DUE + MINUTE), refunded(PAYMENT_DUE + 2 * MINUTE)],
    terminal: 'REFUNDED',
    emits: ['PaymentRequested', 'CancelOrder', 'RefundRequested'],
  },
  'cancelled after authorization': {
    inputs: [placed(), authorized(T0 + 20 * SECOND), confirmed(6, T0 + 21 * SECOND), cancelled(7, T0 + 3 * MINUTE, 'changed my mind'), refunded(T0 + 4 * MINUTE)],
    terminal: 'REFUNDED',
    emits: ['PaymentRequested', 'ConfirmOrder', 'RefundRequested'],
  },
  'cancelled while awaiting payment': {
    inputs: [placed(), cancelled(6, T0 + MINUTE, 'changed my mind')],
    terminal: 'CANCELLED',
    emits: ['PaymentRequested'],
  },
  'refund never confirmed': {
    inputs: [placed(), authorized(T0 + 20 * SECOND), cancelled(6, T0 + MINUTE, 'changed my mind'), due('REFUND', T0 + 11 * MINUTE), due('REFUND', T0 + 21 * MINUTE)],
    terminal: 'REFUND_FAILED',
    emits: ['PaymentRequested', 'ConfirmOrder', 'RefundRequested', 'RefundRequested'],
  },
};

describe('order fulfilment: the flow', () => {
  it('requests payment for a placed order that passes the checks, with a deterministic paymentId and a deadline', () => {
    const state = given().when(placed()).then([paymentRequested]);
    expect(state).toMatchObject({ status: 'AWAITING_PAYMENT', paymentId: PAYMENT_ID, paymentAttempts: 1, amount: TOTAL, customerId: 'c-1', correlationId: 'corr-o-1', startedAt: T0 });
    expect(state.deadlines).toEqual([{ name: 'PAYMENT', dueAt: PAYMENT_DUE, attempt: 1 }]);
    expect(nextDeadline(state)).toEqual({ name: 'PAYMENT', dueAt: PAYMENT_DUE, attempt: 1 });
  });

  it('gives a payment request complete event metadata, first in the order\'s stream of requests', () => {
    const [request] = given().when(placed()).decision.emit;
    expect(request).toEqual({
      kind: 'event',
      event: { type: 'PaymentRequested', data: paymentRequested.data },
      metadata: {
        eventId: id('PaymentRequested'),
        aggregateId: ORDER,
        version: 1,
        occurredAt: T0,
        commandId: 'e-o-1-5',
        correlationId: 'corr-o-1',
        causationId: 'e-o-1-5',
        actor: systemActor(FULFILMENT_ACTOR),
      },
    });
  });

  it('numbers its requests stream itself: the refund request takes the next version, and a retry re-sends at the version it had', () => {
    const history = [placed(), authorized(T0 + 20 * SECOND), cancelled(6, T0 + MINUTE, 'changed my mind')];
    const requests = (inputs: FulfilmentInput[]) =>
      run(inputs, initialState(ORDER), config).emitted.flatMap((e) => (e.kind === 'event' ? [[e.event.type, e.metadata.version, e.metadata.eventId] as const] : []));
    expect(requests([...history, due('REFUND', T0 + 11 * MINUTE)])).toEqual([
      ['PaymentRequested', 1, id('PaymentRequested')],
      ['RefundRequested', 2, id('RefundRequested')],
      ['RefundRequested', 2, id('RefundRequested')],
    ]);
    // A refund without an earlier request in the state (not a path the workflow takes today) would still go first.
    const { state } = run(history, initialState(ORDER), config);
    expect(requestVersion({ ...state, emitted: [] }, id('RefundRequested'))).toBe(1);
    expect(requestVersion(state, id('RefundRequested'))).toBe(2);
  });

  it('confirms the order when the payment is authorized, with a command addressed to the order', () => {
    const { decision } = given(placed()).when(authorized(T0 + 20 * SECOND));
    expect(decision.emit.map(summary)).toEqual([confirmOrder]);
    expect(decision.emit).toEqual([
      {
        kind: 'command',
        command: { type: 'ConfirmOrder', data: {} },
        metadata: { commandId: id('ConfirmOrder'), aggregateId: ORDER, correlationId: 'corr-o-1', issuedAt: T0 + 20 * SECOND, expectedVersion: null, actor: systemActor(FULFILMENT_ACTOR) },
      },
    ]);
    expect(decision.state).toMatchObject({ status: 'CONFIRMED', paymentAuthorized: true, deadlines: [] });
    expect(decision.deadlines).toEqual({ set: [], cancel: [{ name: 'PAYMENT', dueAt: PAYMENT_DUE, attempt: 1 }] });
  });

  it('completes when the confirmed order is delivered', () => {
    const state = given(placed(), authorized(T0 + 20 * SECOND), confirmed(6, T0 + 21 * SECOND)).when(delivered(10, T0 + 50 * MINUTE)).thenNothing();
    expect(state).toMatchObject({ status: 'COMPLETED', closedAt: T0 + 50 * MINUTE, deadlines: [] });
  });

  it('rejects an order with a sold-out or removed item, or an unknown customer, without asking for payment', () => {
    const facts: PlacementFacts = { customerExists: false, menuItems: { 'm-pizza': 'SOLD_OUT' } };
    const reason = 'customer c-1 is not known; Margherita is sold out; Barolo is no longer on the menu';
    const state = given().when(placed(facts)).then([rejectOrder(reason)]);
    expect(state).toMatchObject({ status: 'REJECTED', reason, paymentId: null, deadlines: [] });
    expect(state.failures).toEqual([{ step: 'check', reason, at: T0 }]);
  });

  it('rejects the order when the payment is declined', () => {
    const state = given(placed()).when(declined(T0 + 20 * SECOND)).then([rejectOrder('payment declined: insufficient funds')]);
    expect(state).toMatchObject({ status: 'REJECTED', deadlines: [], closedAt: T0 + 20 * SECOND });
  });

  it("cancels the order with reason 'payment timed out' when the deadline passes without an answer", () => {
    const state = given(placed()).when(due('PAYMENT', PAYMENT_DUE)).then([cancelOrder]);
    expect(state).toMatchObject({ status: 'TIMED_OUT', reason: 'payment timed out', deadlines: [], closedAt: PAYMENT_DUE });
    expect(state.failures).toEqual([{ step: 'payment', reason: 'no answer to payment request 1 within 300000 ms', at: PAYMENT_DUE }]);
  });

  it('retries the payment request (same paymentId and message id) while attempts remain', () => {
    const twice: FulfilmentConfig = { ...config, maxPaymentRequests: 2 };
    const start = run([placed()], initialState(ORDER), twice).state;
    const retry = decide(due('PAYMENT', PAYMENT_DUE), start, twice);
    expect(retry.emit.map(summary)).toEqual([paymentRequested]);
    expect(retry.state).toMatchObject({ status: 'AWAITING_PAYMENT', paymentAttempts: 2, deadlines: [{ name: 'PAYMENT', dueAt: PAYMENT_DUE + 5 * MINUTE, attempt: 2 }] });
    expect(retry.state.emitted).toEqual(start.emitted);
    const giveUp = decide(due('PAYMENT', PAYMENT_DUE + 5 * MINUTE), retry.state, twice);
    expect(giveUp.emit.map(summary)).toEqual([cancelOrder]);
    expect(giveUp.state.failures.map((f) => f.reason)).toEqual([
      'no answer to payment request 1 within 300000 ms; retrying',
      'no answer to payment request 2 within 300000 ms',
    ]);
  });

  it('ignores the echo of its own CancelOrder', () => {
    given(placed(), due('PAYMENT', PAYMENT_DUE)).when(cancelled(6, PAYMENT_DUE + SECOND, 'payment timed out')).thenNothing();
  });

  it('refunds a payment authorized after the timeout', () => {
    const state = given(placed(), due('PAYMENT', PAYMENT_DUE), cancelled(6, PAYMENT_DUE + SECOND, 'payment timed out'))
      .when(authorized(PAYMENT_DUE + MINUTE))
      .then([refundRequested('payment authorized after the order was cancelled (payment timed out)')]);
    expect(state).toMatchObject({ status: 'REFUNDING', refundId: REFUND_ID, refundAttempts: 1, closedAt: null });
    expect(state.deadlines).toEqual([{ name: 'REFUND', dueAt: PAYMENT_DUE + MINUTE + 10 * MINUTE, attempt: 1 }]);
  });

  it('does nothing but note a decline that arrives after the timeout', () => {
    const state = given(placed(), due('PAYMENT', PAYMENT_DUE)).when(declined(PAYMENT_DUE + MINUTE)).thenNothing();
    expect(state.status).toBe('TIMED_OUT');
    expect(state.failures.at(-1)?.reason).toBe('payment declined after the process was TIMED_OUT; nothing to do');
  });

  it('refunds when a confirmed order is cancelled, and ends REFUNDED when the refund is issued', () => {
    const history = [placed(), authorized(T0 + 20 * SECOND), confirmed(6, T0 + 21 * SECOND)];
    const refunding = given(...history).when(cancelled(7, T0 + 3 * MINUTE, 'changed my mind')).then([refundRequested('order cancelled after payment: changed my mind')]);
    expect(refunding.status).toBe('REFUNDING');
    const done = decide(refunded(T0 + 4 * MINUTE), refunding, config);
    expect(done.emit).toEqual([]);
    expect(done.state).toMatchObject({ status: 'REFUNDED', deadlines: [], closedAt: T0 + 4 * MINUTE });
    expect(done.deadlines.cancel).toEqual([{ name: 'REFUND', dueAt: T0 + 13 * MINUTE, attempt: 1 }]);
  });

  it('ends CANCELLED when the customer cancels while payment is pending, and refunds if the payment is authorized later', () => {
    const state = given(placed()).when(cancelled(6, T0 + MINUTE, 'changed my mind')).thenNothing();
    expect(state).toMatchObject({ status: 'CANCELLED', reason: 'changed my mind', deadlines: [] });
    given(placed(), cancelled(6, T0 + MINUTE, 'changed my mind'))
      .when(authorized(T0 + 2 * MINUTE))
      .then([refundRequested('payment authorized after the order was cancelled')]);
  });

  it('retries an unconfirmed refund, then gives up as REFUND_FAILED; a late RefundIssued still ends it REFUNDED', () => {
    const history = [placed(), authorized(T0 + 20 * SECOND), cancelled(6, T0 + MINUTE, 'changed my mind')];
    const reason = 'order cancelled after payment: changed my mind';
    const retried = given(...history).when(due('REFUND', T0 + 11 * MINUTE)).then([refundRequested(reason)]);
    expect(retried).toMatchObject({ status: 'REFUNDING', refundAttempts: 2, deadlines: [{ name: 'REFUND', dueAt: T0 + 21 * MINUTE, attempt: 2 }] });
    const failed = given(...history, due('REFUND', T0 + 11 * MINUTE)).when(due('REFUND', T0 + 21 * MINUTE)).thenNothing();
    expect(failed).toMatchObject({ status: 'REFUND_FAILED', deadlines: [], closedAt: T0 + 21 * MINUTE });
    const late = decide(refunded(T0 + 30 * MINUTE), failed, config);
    expect(late.state).toMatchObject({ status: 'REFUNDED', closedAt: T0 + 30 * MINUTE });
  });

  it('ignores a deadline that was cancelled or already fired', () => {
    const { decision } = given(placed(), authorized(T0 + 20 * SECOND)).when(due('PAYMENT', PAYMENT_DUE));
    expect(decision.changed).toBe(false);
    expect(decision.emit).toEqual([]);
  });

  it('ignores (and notes) an answer about a payment that is not this process', () => {
    const { decision } = given(placed()).when(authorized(T0 + 20 * SECOND, 'p-someone-else'));
    expect(decision.emit).toEqual([]);
    expect(decision.state.status).toBe('AWAITING_PAYMENT');
    expect(decision.state.failures.at(-1)?.reason).toBe('PaymentAuthorized for unknown payment p-someone-else; ignored');
  });

  it('does not start a process for events before OrderPlaced (an open basket cancelled)', () => {
    const { decision } = given().when(cancelled(3, T0, 'changed my mind'));
    expect(decision.changed).toBe(false);
    expect(decision.state).toEqual(initialState(ORDER));
  });

  it('refuses an input of another order', () => {
    expect(() => decide(placed(), initialState('o-2'), config)).toThrow('input for order o-1 fed to the process of order o-2');
  });
});

describe('order fulfilment: every path', () => {
  const schemas = loadSchemas();
  const stateType = schemas.get('restaurant.fulfilment.OrderFulfilmentState').type;

  describe.each(Object.entries(PATHS))('%s', (_name, path) => {
    const first = run(path.inputs, initialState(ORDER), config);

    it('emits what the path implies and ends in exactly one terminal state', () => {
      expect(first.emitted.map((e) => summary(e).type)).toEqual(path.emits);
      expect(first.state.status).toBe(path.terminal);
      expect(isTerminal(first.state.status)).toBe(true);
      expect(first.state.deadlines).toEqual([]);
      expect(first.state.closedAt).not.toBeNull();
    });

    it('emits nothing new and keeps the same state when the whole history is fed again (a replay)', () => {
      for (const input of path.inputs) {
        const again = decide(input, first.state, config);
        expect(again.emit).toEqual([]);
        expect(again.changed).toBe(false);
        expect(again.state).toBe(first.state);
      }
    });

    it('decides the same messages with the same ids when re-run from scratch (a lost changelog)', () => {
      const second = run(path.inputs, initialState(ORDER), config);
      expect(second).toEqual(first);
    });

    it('emits each message once even when every input is delivered twice', () => {
      const twice = run(path.inputs.flatMap((i) => [i, i]), initialState(ORDER), config);
      expect(twice).toEqual(first);
    });

    it('keeps every intermediate state and emitted message valid for its Avro schema', () => {
      let state = initialState(ORDER);
      for (const input of path.inputs) {
        const decision = decide(input, state, config);
        state = decision.state;
        expect(fromStateRecord(stateType.fromBuffer(stateType.toBuffer(state)) as OrderFulfilmentState)).toEqual(state);
        for (const e of decision.emit) {
          const record = e.kind === 'command' ? toCommandRecord(e.command, e.metadata) : toEventRecord(e.event, e.metadata);
          const type = schemas.get(`${e.kind === 'command' ? 'restaurant.order' : 'restaurant.payment'}.${summary(e).type}`).type;
          expect(type.isValid(record)).toBe(true);
        }
      }
    });
  });

  it('refuses a changelog record with a status this build does not know', () => {
    expect(() => fromStateRecord({ ...initialState(ORDER), status: 'UNKNOWN' })).toThrow('newer build');
  });
});
