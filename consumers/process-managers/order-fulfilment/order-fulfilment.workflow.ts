// Order fulfilment (docs/process-managers.md): an orchestrating process manager, one
// process per order, keyed by orderId.
//
//   OrderPlaced ──checks fail──> RejectOrder ............................ REJECTED
//        └─checks pass─> PaymentRequested + PAYMENT deadline ── AWAITING_PAYMENT
//   AWAITING_PAYMENT ──PaymentAuthorized──> ConfirmOrder ................. CONFIRMED
//                    ──PaymentDeclined───> RejectOrder ................... REJECTED
//                    ──PAYMENT deadline──> (retry while attempts remain) or CancelOrder('payment timed out') TIMED_OUT
//                    ──OrderCancelled / OrderRejected (by someone else)── CANCELLED / REJECTED
//   CONFIRMED ──OrderDelivered──> COMPLETED
//             ──OrderCancelled──> RefundRequested + REFUND deadline ...... REFUNDING
//   CANCELLED | TIMED_OUT | REJECTED ──PaymentAuthorized (late)──> RefundRequested  REFUNDING
//   REFUNDING ──RefundIssued──> REFUNDED;  ──REFUND deadline──> retry, then REFUND_FAILED
//
// Shape: one pure function, `decide(input, state, config) → { emit, deadlines,
// state, changed }`. Deciding and evolving are not split because what the
// process emits and how its state changes are one decision, persisted together
// (changelog + emitted messages + consumed offsets in one Kafka transaction).
// `changed: false` means the input was a replay or irrelevant: the runtime
// writes nothing but the offset.
//
// Pure: no Kafka, Redis, clock or randomness. Time is the input's (event
// occurredAt; a deadline's own dueAt), ids are derived from the orderId, and
// the menu/customer facts the checks need come in with OrderPlaced (the runtime
// looks them up when it consumes OrderPlaced; see docs/process-managers.md).
import type {
  CommandMetadata,
  EventMetadata,
  FulfilmentDeadline,
  FulfilmentDeadlineName,
  FulfilmentFailure,
  FulfilmentStatus,
  MenuItemStatus,
  OrderCancelled,
  OrderConfirmed,
  OrderDelivered,
  OrderFulfilmentState,
  OrderPlaced,
  OrderRejected,
  PaymentAuthorized,
  PaymentDeclined,
  RefundIssued,
} from '../../../schemas/generated/types';
import type { OrderCommand, PayloadOf, PaymentMessage } from '../../../schemas/messages';
import { systemActor } from '../../../schemas/roles';
import { LIMITS } from '../../../schemas/validation';
import { assertNever } from '../../../kernel/assert-never';
import { deterministicId } from '../../../kernel/deterministic-id';

// ---------------------------------------------------------------- configuration

export interface FulfilmentConfig {
  /** How long to wait for the provider's answer to one payment request (from the request's time). */
  readonly paymentTimeoutMs: number;
  /** Payment requests to send before giving up (1 = no retry). A retry re-sends the same paymentId. */
  readonly maxPaymentRequests: number;
  /** How long to wait for RefundIssued after one refund request. */
  readonly refundTimeoutMs: number;
  /** Refund requests to send before REFUND_FAILED (a person has to look). */
  readonly maxRefundRequests: number;
}

export const DEFAULT_FULFILMENT_CONFIG: FulfilmentConfig = Object.freeze({
  paymentTimeoutMs: 5 * 60_000,
  maxPaymentRequests: 1,
  refundTimeoutMs: 10 * 60_000,
  maxRefundRequests: 3,
});

/** The actor recorded on the commands and requests order fulfilment writes. */
export const FULFILMENT_ACTOR = 'order-fulfilment';

export const PAYMENT_TIMEOUT_REASON = 'payment timed out';

// ---------------------------------------------------------------- inputs

/** What the runtime knew about the customer and the ordered items when it consumed OrderPlaced. */
export interface PlacementFacts {
  /** Whether the customer exists (e.g. has a CustomerSnapshot). */
  readonly customerExists: boolean;
  /** Status of every menu item the order names; an item missing here counts as not on the menu. */
  readonly menuItems: Readonly<Record<string, MenuItemStatus>>;
}

/** An order event as consumed from restaurant.order.events: payload plus its envelope. */
interface OrderEventInput<T extends string, R> {
  readonly type: T;
  readonly data: PayloadOf<R>;
  readonly metadata: EventMetadata;
}

/** A payment-provider message as consumed from restaurant.payment.results. */
interface PaymentInput<T extends string, R> {
  readonly type: T;
  readonly data: PayloadOf<R>;
  readonly metadata: EventMetadata;
}

export type FulfilmentInput =
  | (OrderEventInput<'OrderPlaced', OrderPlaced> & { readonly facts: PlacementFacts })
  | OrderEventInput<'OrderConfirmed', OrderConfirmed>
  | OrderEventInput<'OrderRejected', OrderRejected>
  | OrderEventInput<'OrderCancelled', OrderCancelled>
  | OrderEventInput<'OrderDelivered', OrderDelivered>
  | PaymentInput<'PaymentAuthorized', PaymentAuthorized>
  | PaymentInput<'PaymentDeclined', PaymentDeclined>
  | PaymentInput<'RefundIssued', RefundIssued>
  /** A deadline of the state came due; the runtime's scheduler feeds it with the deadline's own name and dueAt. */
  | { readonly type: 'DeadlineReached'; readonly orderId: string; readonly name: FulfilmentDeadlineName; readonly dueAt: number };

/** Order events the runtime should route to this process (everything else on the order topic is not an input). */
export const ORDER_EVENT_INPUTS = ['OrderPlaced', 'OrderConfirmed', 'OrderRejected', 'OrderCancelled', 'OrderDelivered'] as const;
/** The payment provider's results, every message type of restaurant.payment.results. */
export const PAYMENT_INPUTS = ['PaymentAuthorized', 'PaymentDeclined', 'RefundIssued'] as const;

// ---------------------------------------------------------------- outputs

export type FulfilmentCommand = Extract<OrderCommand, { type: 'ConfirmOrder' | 'RejectOrder' | 'CancelOrder' }>;
export type FulfilmentRequest = Extract<PaymentMessage, { type: 'PaymentRequested' | 'RefundRequested' }>;

/**
 * A message to produce. Commands go to restaurant.order.commands (key
 * metadata.aggregateId), payment requests to restaurant.payment.requests (key
 * `<orderId>/<metadata.version>`). Metadata is complete: the runtime only encodes.
 */
export type Emitted =
  | { readonly kind: 'command'; readonly command: FulfilmentCommand; readonly metadata: CommandMetadata }
  | { readonly kind: 'event'; readonly event: FulfilmentRequest; readonly metadata: EventMetadata };

export interface FulfilmentDecision {
  /** Messages to produce, in order. A retry re-emits an earlier message id on purpose (counted in the state). */
  readonly emit: readonly Emitted[];
  /** Timer changes for the scheduler; the state's `deadlines` is the full, authoritative list. */
  readonly deadlines: { readonly set: readonly FulfilmentDeadline[]; readonly cancel: readonly FulfilmentDeadline[] };
  readonly state: OrderFulfilmentState;
  /** False when the input changed nothing (replay, duplicate, irrelevant): `state` is the one passed in. */
  readonly changed: boolean;
}

// ---------------------------------------------------------------- state

export const TERMINAL_STATUSES: ReadonlySet<FulfilmentStatus> = new Set<FulfilmentStatus>([
  'COMPLETED',
  'REJECTED',
  'CANCELLED',
  'TIMED_OUT',
  'REFUNDED',
  'REFUND_FAILED',
]);

export function isTerminal(status: FulfilmentStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

export function initialState(orderId: string): OrderFulfilmentState {
  return {
    orderId,
    version: 0,
    status: 'NEW',
    correlationId: null,
    customerId: null,
    amount: null,
    paymentId: null,
    paymentAttempts: 0,
    paymentAuthorized: false,
    refundId: null,
    refundAttempts: 0,
    deadlines: [],
    emitted: [],
    handled: [],
    orderVersion: 0,
    failures: [],
    reason: null,
    startedAt: null,
    updatedAt: null,
    closedAt: null,
  };
}

/** Raised when a changelog record cannot be used (a status this build does not know). */
export class FulfilmentStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FulfilmentStateError';
  }
}

/** Checks a state read back from the changelog before deciding with it. */
export function fromStateRecord(record: OrderFulfilmentState): OrderFulfilmentState {
  if (record.status === 'UNKNOWN') throw new FulfilmentStateError(`process ${record.orderId}: status written by a newer build`);
  if (record.deadlines.some((d) => d.name === 'UNKNOWN')) throw new FulfilmentStateError(`process ${record.orderId}: deadline written by a newer build`);
  return record;
}

// ---------------------------------------------------------------- ids

/** Ids derive from the order alone, so whoever decides again (a replay, a restarted runtime) derives the same ones. */
export const fulfilmentIds = {
  payment: (orderId: string): string => deterministicId(orderId, 'payment'),
  refund: (orderId: string): string => deterministicId(orderId, 'refund'),
  message: (orderId: string, type: FulfilmentCommand['type'] | FulfilmentRequest['type']): string => deterministicId(orderId, 'order-fulfilment', type),
};

// ---------------------------------------------------------------- decide

/** The facts check of a placed order: every reason it cannot go ahead, or none. */
export function checkPlacement(order: PayloadOf<OrderPlaced>, facts: PlacementFacts): string[] {
  const problems: string[] = [];
  if (!facts.customerExists) problems.push(`customer ${order.customerId} is not known`);
  for (const line of order.lines) {
    const status = facts.menuItems[line.menuItemId];
    if (status === 'SOLD_OUT') problems.push(`${line.menuItemName} is sold out`);
    else if (status !== 'AVAILABLE') problems.push(`${line.menuItemName} is no longer on the menu`);
  }
  return problems;
}

const clip = (reason: string): string => (reason.length <= LIMITS.reasonMaxLength ? reason : `${reason.slice(0, LIMITS.reasonMaxLength - 1)}…`);

/** A working copy of one decision: the state being built and what it emits. */
class Draft {
  state: OrderFulfilmentState;
  readonly emit: Emitted[] = [];
  readonly set: FulfilmentDeadline[] = [];
  readonly cancel: FulfilmentDeadline[] = [];

  constructor(
    base: OrderFulfilmentState,
    /** Time of the input: event occurredAt, or a deadline's dueAt. */
    readonly at: number,
    /** Id of the input message (the causation of anything emitted). */
    readonly cause: string,
  ) {
    this.state = { ...base, version: base.version + 1, updatedAt: at };
  }

  patch(changes: Partial<OrderFulfilmentState>): void {
    this.state = { ...this.state, ...changes };
  }

  fail(step: string, reason: string): void {
    const failure: FulfilmentFailure = { step, reason, at: this.at };
    this.patch({ failures: [...this.state.failures, failure] });
  }

  private correlationId(): string {
    return this.state.correlationId ?? this.state.orderId;
  }

  /** Emits a message unless its id was emitted before; `retry` re-sends an emitted one on purpose. */
  private push(message: Emitted, id: string, retry: boolean): void {
    const already = this.state.emitted.includes(id);
    if (already && !retry) return;
    this.emit.push(message);
    if (!already) this.patch({ emitted: [...this.state.emitted, id] });
  }

  command(command: FulfilmentCommand): void {
    const commandId = fulfilmentIds.message(this.state.orderId, command.type);
    const metadata: CommandMetadata = {
      commandId,
      aggregateId: this.state.orderId,
      correlationId: this.correlationId(),
      issuedAt: this.at,
      expectedVersion: null,
      actor: systemActor(FULFILMENT_ACTOR),
    };
    this.push({ kind: 'command', command, metadata }, commandId, false);
  }

  request(event: FulfilmentRequest, retry = false): void {
    const eventId = fulfilmentIds.message(this.state.orderId, event.type);
    const metadata: EventMetadata = {
      eventId,
      aggregateId: this.state.orderId,
      version: requestVersion(this.state, eventId),
      occurredAt: this.at,
      // No command produced it: the input that caused it stands in.
      commandId: this.cause,
      correlationId: this.correlationId(),
      causationId: this.cause,
      actor: systemActor(FULFILMENT_ACTOR),
    };
    this.push({ kind: 'event', event, metadata }, eventId, retry);
  }

  setDeadline(name: FulfilmentDeadlineName, dueAt: number, attempt: number): void {
    const deadline: FulfilmentDeadline = { name, dueAt, attempt };
    this.set.push(deadline);
    this.patch({ deadlines: [...this.state.deadlines, deadline] });
  }

  cancelDeadlines(name: FulfilmentDeadlineName): void {
    const gone = this.state.deadlines.filter((d) => d.name === name);
    if (gone.length === 0) return;
    this.cancel.push(...gone);
    this.patch({ deadlines: this.state.deadlines.filter((d) => d.name !== name) });
  }

  /** Moves to a status; entering a terminal one clears every deadline and stamps closedAt. */
  moveTo(status: FulfilmentStatus, reason: string | null = this.state.reason): void {
    this.patch({ status, reason });
    if (isTerminal(status)) {
      for (const d of this.state.deadlines) this.cancel.push(d);
      this.patch({ deadlines: [], closedAt: this.at });
    } else {
      this.patch({ closedAt: null });
    }
  }

  decision(): FulfilmentDecision {
    return { emit: this.emit, deadlines: { set: this.set, cancel: this.cancel }, state: this.state, changed: true };
  }
}

const REQUEST_TYPES: readonly FulfilmentRequest['type'][] = ['PaymentRequested', 'RefundRequested'];

/**
 * The version of a request in the order's stream on restaurant.payment.requests,
 * which this process alone writes: its place among the requests emitted so far
 * (the state's `emitted`, in order), or the next place for a new one. A retry
 * re-sends a request at the place it has, so compaction keeps one record.
 */
export function requestVersion(state: OrderFulfilmentState, eventId: string): number {
  const requestIds = new Set(REQUEST_TYPES.map((type) => fulfilmentIds.message(state.orderId, type)));
  const written = state.emitted.filter((id) => requestIds.has(id));
  const place = written.indexOf(eventId);
  return (place === -1 ? written.length : place) + 1;
}

function unchanged(state: OrderFulfilmentState): FulfilmentDecision {
  return { emit: [], deadlines: { set: [], cancel: [] }, state, changed: false };
}

function requestPayment(draft: Draft, config: FulfilmentConfig, retry: boolean): void {
  const { orderId, paymentId, customerId, amount } = draft.state;
  if (paymentId === null || customerId === null || amount === null) throw new Error(`process ${orderId}: payment requested before the order was placed`);
  const attempt = draft.state.paymentAttempts + 1;
  draft.request({ type: 'PaymentRequested', data: { orderId, paymentId, customerId, amount } }, retry);
  draft.patch({ paymentAttempts: attempt });
  draft.setDeadline('PAYMENT', draft.at + config.paymentTimeoutMs, attempt);
}

function requestRefund(draft: Draft, config: FulfilmentConfig, reason: string, retry: boolean): void {
  const { orderId, paymentId, amount } = draft.state;
  if (paymentId === null || amount === null) throw new Error(`process ${orderId}: refund requested without a payment`);
  const refundId = draft.state.refundId ?? fulfilmentIds.refund(orderId);
  const attempt = draft.state.refundAttempts + 1;
  draft.patch({ refundId, refundAttempts: attempt });
  draft.request({ type: 'RefundRequested', data: { orderId, paymentId, refundId, amount, reason: clip(reason) } }, retry);
  draft.setDeadline('REFUND', draft.at + config.refundTimeoutMs, attempt);
  draft.moveTo('REFUNDING', reason);
}

/** Order events: applied once each, in version order (older or equal versions are replays). */
function decideOrderEvent(
  input: Extract<FulfilmentInput, { type: (typeof ORDER_EVENT_INPUTS)[number] }>,
  state: OrderFulfilmentState,
  config: FulfilmentConfig,
): FulfilmentDecision {
  if (input.metadata.version <= state.orderVersion) return unchanged(state);
  // Before OrderPlaced there is no process: an open basket cancelled is not ours to track.
  if (state.status === 'NEW' && input.type !== 'OrderPlaced') return unchanged(state);

  const draft = new Draft(state, input.metadata.occurredAt, input.metadata.eventId);
  draft.patch({ orderVersion: input.metadata.version });
  const status = state.status;

  switch (input.type) {
    case 'OrderPlaced': {
      if (status !== 'NEW') {
        draft.fail('order', `OrderPlaced again at version ${input.metadata.version}; ignored`);
        break;
      }
      const order = input.data;
      draft.patch({
        correlationId: input.metadata.correlationId,
        customerId: order.customerId,
        amount: order.total,
        startedAt: draft.at,
      });
      const problems = checkPlacement(order, input.facts);
      if (problems.length > 0) {
        const reason = clip(problems.join('; '));
        draft.fail('check', reason);
        draft.command({ type: 'RejectOrder', data: { reason } });
        draft.moveTo('REJECTED', reason);
        break;
      }
      draft.patch({ paymentId: fulfilmentIds.payment(state.orderId) });
      draft.moveTo('AWAITING_PAYMENT', null);
      requestPayment(draft, config, false);
      break;
    }
    case 'OrderConfirmed':
      // Normally the echo of our ConfirmOrder. Confirmed by someone else before payment: note it, keep waiting.
      if (status === 'AWAITING_PAYMENT') draft.fail('order', 'order confirmed before its payment was authorized');
      break;
    case 'OrderRejected':
      // Our own RejectOrder coming back is a no-op; a rejection by someone else while we wait ends the process.
      if (status === 'AWAITING_PAYMENT') draft.moveTo('REJECTED', input.data.reason);
      break;
    case 'OrderCancelled':
      if (status === 'AWAITING_PAYMENT') draft.moveTo('CANCELLED', input.data.reason);
      else if (status === 'CONFIRMED') requestRefund(draft, config, `order cancelled after payment: ${input.data.reason}`, false);
      // TIMED_OUT: the echo of our CancelOrder. Other statuses: the order aggregate does not allow it; nothing to do.
      break;
    case 'OrderDelivered':
      if (status === 'CONFIRMED') draft.moveTo('COMPLETED', null);
      break;
    default:
      return assertNever(input, 'order fulfilment order event');
  }
  return draft.decision();
}

/** Provider answers: applied once each (by event id), and only for this process's payment. */
function decidePaymentMessage(
  input: Extract<FulfilmentInput, { type: (typeof PAYMENT_INPUTS)[number] }>,
  state: OrderFulfilmentState,
  config: FulfilmentConfig,
): FulfilmentDecision {
  if (state.handled.includes(input.metadata.eventId)) return unchanged(state);
  const draft = new Draft(state, input.metadata.occurredAt, input.metadata.eventId);
  draft.patch({ handled: [...state.handled, input.metadata.eventId] });
  const status = state.status;

  if (state.paymentId === null || input.data.paymentId !== state.paymentId) {
    draft.fail('payment', `${input.type} for unknown payment ${input.data.paymentId}; ignored`);
    return draft.decision();
  }

  switch (input.type) {
    case 'PaymentAuthorized':
      if (state.paymentAuthorized) break; // a duplicate answer
      draft.patch({ paymentAuthorized: true });
      if (status === 'AWAITING_PAYMENT') {
        draft.cancelDeadlines('PAYMENT');
        draft.command({ type: 'ConfirmOrder', data: {} });
        draft.moveTo('CONFIRMED', null);
      } else {
        // CANCELLED, TIMED_OUT, REJECTED: money is held for an order that will not go ahead. Compensate.
        draft.fail('payment', `payment authorized after the process was ${status}`);
        requestRefund(draft, config, `payment authorized after the order was ${status === 'TIMED_OUT' ? 'cancelled (payment timed out)' : status.toLowerCase()}`, false);
      }
      break;
    case 'PaymentDeclined':
      if (status === 'AWAITING_PAYMENT') {
        const reason = clip(`payment declined: ${input.data.reason}`);
        draft.fail('payment', reason);
        draft.command({ type: 'RejectOrder', data: { reason } });
        draft.moveTo('REJECTED', reason);
      } else {
        draft.fail('payment', `payment declined after the process was ${status}; nothing to do`);
      }
      break;
    case 'RefundIssued':
      if (state.refundId === null || input.data.refundId !== state.refundId) {
        draft.fail('refund', `refund ${input.data.refundId} is not this process's; ignored`);
      } else if (status === 'REFUNDING' || status === 'REFUND_FAILED') {
        draft.moveTo('REFUNDED');
      }
      break;
    default:
      return assertNever(input, 'order fulfilment payment message');
  }
  return draft.decision();
}

function decideDeadline(input: Extract<FulfilmentInput, { type: 'DeadlineReached' }>, state: OrderFulfilmentState, config: FulfilmentConfig): FulfilmentDecision {
  const deadline = state.deadlines.find((d) => d.name === input.name && d.dueAt === input.dueAt);
  if (deadline === undefined) return unchanged(state); // cancelled, already fired, or a replay
  const draft = new Draft(state, deadline.dueAt, deterministicId(state.orderId, 'deadline', deadline.name, String(deadline.dueAt)));
  draft.patch({ deadlines: state.deadlines.filter((d) => d !== deadline) });

  switch (deadline.name) {
    case 'PAYMENT': {
      const waited = `no answer to payment request ${deadline.attempt} within ${config.paymentTimeoutMs} ms`;
      if (state.status !== 'AWAITING_PAYMENT') break;
      if (state.paymentAttempts < config.maxPaymentRequests) {
        draft.fail('payment', `${waited}; retrying`);
        requestPayment(draft, config, true);
      } else {
        draft.fail('payment', waited);
        draft.command({ type: 'CancelOrder', data: { reason: PAYMENT_TIMEOUT_REASON } });
        draft.moveTo('TIMED_OUT', PAYMENT_TIMEOUT_REASON);
      }
      break;
    }
    case 'REFUND': {
      if (state.status !== 'REFUNDING') break;
      const waited = `no RefundIssued for refund request ${deadline.attempt} within ${config.refundTimeoutMs} ms`;
      if (state.refundAttempts < config.maxRefundRequests) {
        draft.fail('refund', `${waited}; retrying`);
        requestRefund(draft, config, state.reason ?? 'refund', true);
      } else {
        draft.fail('refund', `${waited}; giving up after ${state.refundAttempts} requests`);
        draft.moveTo('REFUND_FAILED');
      }
      break;
    }
    case 'UNKNOWN':
      throw new FulfilmentStateError(`process ${state.orderId}: deadline of unknown kind`);
    default:
      return assertNever(deadline.name, 'fulfilment deadline');
  }
  return draft.decision();
}

function inputOrderId(input: FulfilmentInput): string {
  return input.type === 'DeadlineReached' ? input.orderId : input.metadata.aggregateId;
}

/**
 * Decides one input against the state of its process. Deterministic: the same
 * input and state always give the same decision, and an input already applied
 * gives `changed: false` with nothing to emit.
 */
export function decide(input: FulfilmentInput, state: OrderFulfilmentState, config: FulfilmentConfig = DEFAULT_FULFILMENT_CONFIG): FulfilmentDecision {
  const orderId = inputOrderId(input);
  if (orderId !== state.orderId) throw new Error(`input for order ${orderId} fed to the process of order ${state.orderId}`);
  switch (input.type) {
    case 'OrderPlaced':
    case 'OrderConfirmed':
    case 'OrderRejected':
    case 'OrderCancelled':
    case 'OrderDelivered':
      return decideOrderEvent(input, state, config);
    case 'PaymentAuthorized':
    case 'PaymentDeclined':
    case 'RefundIssued':
      return decidePaymentMessage(input, state, config);
    case 'DeadlineReached':
      return decideDeadline(input, state, config);
    default:
      return assertNever(input, 'order fulfilment input');
  }
}

/** Feeds inputs in order from a state (by default a fresh process), collecting what was emitted. Tests and tools. */
export function run(
  inputs: readonly FulfilmentInput[],
  from: OrderFulfilmentState,
  config: FulfilmentConfig = DEFAULT_FULFILMENT_CONFIG,
): { readonly state: OrderFulfilmentState; readonly emitted: readonly Emitted[] } {
  let state = from;
  const emitted: Emitted[] = [];
  for (const input of inputs) {
    const decision = decide(input, state, config);
    emitted.push(...decision.emit);
    state = decision.state;
  }
  return { state, emitted };
}

/** The deadline that is due first, for the scheduler (null when none is pending). */
export function nextDeadline(state: OrderFulfilmentState): FulfilmentDeadline | null {
  return state.deadlines.reduce<FulfilmentDeadline | null>((first, d) => (first === null || d.dueAt < first.dueAt ? d : first), null);
}
