// The payment provider's simulator on the process-manager runtime. It consumes
// PaymentRequested and RefundRequested from restaurant.payment.requests, decides
// at once what the provider will answer (payment-simulator.ts: seeded declines,
// stalls and delays) and keeps the answer as a pending deadline in its state,
// due at the answer's occurredAt (request time + delay). When it comes due the
// runtime fires it and the answer is produced into the order's stream on
// restaurant.payment.results, which the provider alone writes, in one
// transaction with the state that says it was sent. It numbers that stream
// itself: an answer's version is the order's answers produced so far + 1.
//
// So the delay is a scheduler, not a sleep per message; a restart loses no
// scheduled answer (it is in the changelog) and sends none twice; a request
// seen again (a replay, a deliberate retry with the same id) changes nothing:
// the provider has already answered it, or will, or stalls again.
import type { EventMetadata, PaymentRequested, PaymentSimulatorState, PendingPaymentAnswer, RefundRequested } from '../../schemas/generated/types';
import type { PaymentMessage, PayloadOf } from '../../schemas/messages';
import { AGGREGATE_NAMESPACES, paymentTopicName } from '../../schemas/topics';
import { eventMessage, splitRecord, type ProcessDecision, type ProcessDefinition } from '../process-managers/runtime/definition';
import { answerPayment, answerRefund, DEFAULT_SIMULATOR_CONFIG, validateSimulatorConfig, type ScheduledAnswer, type SimulatorConfig } from './payment-simulator';
import { assertNever } from '../../kernel/assert-never';

export const PAYMENT_SIMULATOR_GROUP = 'restaurant.payment-simulator';
const PAYMENT_REQUESTS = paymentTopicName('requests');
const PAYMENT_RESULTS = paymentTopicName('results');

export type SimulatorInput =
  | { readonly type: 'PaymentRequested'; readonly data: PayloadOf<PaymentRequested>; readonly metadata: EventMetadata }
  | { readonly type: 'RefundRequested'; readonly data: PayloadOf<RefundRequested>; readonly metadata: EventMetadata }
  /** A pending answer came due; `name` is its event id. */
  | { readonly type: 'AnswerDue'; readonly orderId: string; readonly name: string; readonly dueAt: number };

export const initialSimulatorState = (orderId: string): PaymentSimulatorState => ({ orderId, version: 0, pending: [], handled: [], answered: 0, stalled: 0 });

/** The answer as the state keeps it until it is due. */
export function toPending(answer: ScheduledAnswer): PendingPaymentAnswer {
  const m = answer.message;
  switch (m.type) {
    case 'PaymentAuthorized':
      return { type: 'PAYMENT_AUTHORIZED', paymentId: m.data.paymentId, refundId: null, amount: m.data.amount, reason: null, answerMetadata: answer.metadata };
    case 'PaymentDeclined':
      return { type: 'PAYMENT_DECLINED', paymentId: m.data.paymentId, refundId: null, amount: m.data.amount, reason: m.data.reason, answerMetadata: answer.metadata };
    case 'RefundIssued':
      return { type: 'REFUND_ISSUED', paymentId: m.data.paymentId, refundId: m.data.refundId, amount: m.data.amount, reason: null, answerMetadata: answer.metadata };
    case 'PaymentRequested':
    case 'RefundRequested':
      throw new Error(`the provider does not answer with a ${m.type}`);
    default:
      return assertNever(m, 'payment answer');
  }
}

/** The message a pending answer becomes when it is due. */
export function toAnswerMessage(orderId: string, p: PendingPaymentAnswer): PaymentMessage {
  const { paymentId, amount, reason, refundId } = p;
  switch (p.type) {
    case 'PAYMENT_AUTHORIZED':
      return { type: 'PaymentAuthorized', data: { orderId, paymentId, amount } };
    case 'PAYMENT_DECLINED':
      if (reason === null) throw new Error(`order ${orderId}: a decline without a reason`);
      return { type: 'PaymentDeclined', data: { orderId, paymentId, amount, reason } };
    case 'REFUND_ISSUED':
      if (refundId === null) throw new Error(`order ${orderId}: a refund answer without a refund id`);
      return { type: 'RefundIssued', data: { orderId, paymentId, refundId, amount } };
    case 'UNKNOWN':
      throw new Error(`order ${orderId}: a pending answer of a kind written by a newer build`);
    default:
      return assertNever(p.type, 'pending payment answer');
  }
}

/** Pure: what the provider does with a request or a due answer. */
export function decideProvider(input: SimulatorInput, state: PaymentSimulatorState, seed: string | number, config: SimulatorConfig): ProcessDecision<PaymentSimulatorState> {
  const unchanged = { emit: [], state, changed: false };
  if (input.type === 'AnswerDue') {
    const due = state.pending.find((p) => p.answerMetadata.eventId === input.name && p.answerMetadata.occurredAt === input.dueAt);
    if (due === undefined) return unchanged;
    const message = toAnswerMessage(state.orderId, due);
    // The next place in the order's results stream: answers go out one at a time, each with the state that counts it.
    const metadata = { ...due.answerMetadata, version: state.answered + 1 };
    return {
      emit: [eventMessage(PAYMENT_RESULTS, AGGREGATE_NAMESPACES.payment, message.type, message.data, metadata)],
      state: { ...state, version: state.version + 1, pending: state.pending.filter((p) => p !== due), answered: state.answered + 1 },
      changed: true,
    };
  }
  const requestId = input.type === 'PaymentRequested' ? input.data.paymentId : input.data.refundId;
  if (state.handled.includes(requestId)) return unchanged;
  const answer = input.type === 'PaymentRequested' ? answerPayment(input, seed, config) : answerRefund(input, seed, config);
  const next = { ...state, version: state.version + 1, handled: [...state.handled, requestId] };
  if (answer === null) return { emit: [], state: { ...next, stalled: state.stalled + 1 }, changed: true };
  return { emit: [], state: { ...next, pending: [...state.pending, toPending(answer)] }, changed: true };
}

export interface PaymentSimulatorSettings {
  readonly seed: string;
  readonly config?: SimulatorConfig;
}

export function paymentSimulatorProcess(settings: PaymentSimulatorSettings): ProcessDefinition<PaymentSimulatorState, SimulatorInput> {
  const config = validateSimulatorConfig(settings.config ?? DEFAULT_SIMULATOR_CONFIG);
  return {
    name: 'payment-simulator',
    groupId: PAYMENT_SIMULATOR_GROUP,
    inputs: [PAYMENT_REQUESTS],
    handles: new Set(['PaymentRequested', 'RefundRequested']),
    stateRecord: 'restaurant.simulator.PaymentSimulatorState',
    async inputsFor(records) {
      return records.map((r) => {
        const { metadata, data } = splitRecord<never>(r);
        return { type: r.type, data, metadata } as SimulatorInput;
      });
    },
    // A dead-lettered input parks its process (keyed <aggregateId>/<version>: the process id); docs/stateful-runtime.md "Parking".
    parking: {},
    processId: (input) => (input.type === 'AnswerDue' ? input.orderId : input.metadata.aggregateId),
    initialState: initialSimulatorState,
    fromStateRecord(record) {
      const state = record as PaymentSimulatorState;
      if (state.pending.some((p) => p.type === 'UNKNOWN')) throw new Error(`order ${state.orderId}: a pending answer of a kind written by a newer build`);
      return state;
    },
    decide: (input, state) => decideProvider(input, state, settings.seed, config),
    deadlines: (state) => state.pending.map((p) => ({ name: p.answerMetadata.eventId, dueAt: p.answerMetadata.occurredAt })),
    deadlineInput: (orderId, deadline) => ({ type: 'AnswerDue', orderId, name: deadline.name, dueAt: deadline.dueAt }),
    status: (state) => (state.pending.length > 0 ? 'ANSWER_PENDING' : 'IDLE'),
  };
}
