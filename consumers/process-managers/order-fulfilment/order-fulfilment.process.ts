// Order fulfilment on the process-manager runtime: which records are its
// inputs, the placement facts attached to OrderPlaced, the workflow's decision,
// and where its commands and payment requests go. The decision itself is the
// pure workflow (order-fulfilment.workflow.ts).
import type { FulfilmentDeadlineName, OrderFulfilmentState, OrderPlaced } from '../../../schemas/generated/types';
import { toCommandRecord, type PayloadOf } from '../../../schemas/messages';
import { AGGREGATE_NAMESPACES, paymentTopicName, topicName } from '../../../schemas/topics';
import { eventMessage, splitRecord, type DecodedRecord, type Outgoing, type ProcessDefinition } from '../runtime/definition';
import type { PlacementFactsSource } from './placement-facts';
import {
  decide,
  DEFAULT_FULFILMENT_CONFIG,
  fromStateRecord,
  initialState,
  ORDER_EVENT_INPUTS,
  PAYMENT_INPUTS,
  type Emitted,
  type FulfilmentConfig,
  type FulfilmentInput,
} from './order-fulfilment.workflow';

export const ORDER_FULFILMENT_GROUP = 'restaurant.process-manager.order-fulfilment';
const STATE_RECORD = 'restaurant.fulfilment.OrderFulfilmentState';
const ORDER_EVENTS = topicName('order', 'events');
const ORDER_COMMANDS = topicName('order', 'commands');
const PAYMENT_REQUESTS = paymentTopicName('requests');
const PAYMENT_RESULTS = paymentTopicName('results');

const ORDER_TYPES: ReadonlySet<string> = new Set(ORDER_EVENT_INPUTS);
const PAYMENT_TYPES: ReadonlySet<string> = new Set(PAYMENT_INPUTS);

/** A workflow output as a message: commands to restaurant.order.commands (key orderId), requests to the order's stream on restaurant.payment.requests. */
export function fulfilmentMessage(e: Emitted): Outgoing {
  if (e.kind === 'event') return eventMessage(PAYMENT_REQUESTS, AGGREGATE_NAMESPACES.payment, e.event.type, e.event.data, e.metadata);
  const { command, metadata } = e;
  return {
    topic: ORDER_COMMANDS,
    key: metadata.aggregateId,
    partitionKey: metadata.aggregateId,
    recordName: `${AGGREGATE_NAMESPACES.order}.${command.type}`,
    value: toCommandRecord(command, metadata),
    id: metadata.commandId,
    type: command.type,
    headers: { 'command-type': command.type, 'command-id': metadata.commandId, 'correlation-id': metadata.correlationId },
  };
}

/** A consumed record as a workflow input (OrderPlaced gets its facts from `factsOf`). */
export function toFulfilmentInput(record: DecodedRecord, factsOf: (placed: DecodedRecord) => Extract<FulfilmentInput, { type: 'OrderPlaced' }>['facts']): FulfilmentInput | null {
  if (!ORDER_TYPES.has(record.type) && !PAYMENT_TYPES.has(record.type)) return null;
  const { metadata, data } = splitRecord<never>(record);
  if (record.type === 'OrderPlaced') return { type: 'OrderPlaced', data: data as PayloadOf<OrderPlaced>, metadata, facts: factsOf(record) };
  // The type names the record the payload was decoded as (the writer schema's name), so the pairing holds.
  return { type: record.type, data, metadata } as FulfilmentInput;
}

export function orderFulfilmentProcess(options: { readonly facts: PlacementFactsSource; readonly config?: FulfilmentConfig }): ProcessDefinition<OrderFulfilmentState, FulfilmentInput> {
  const config = options.config ?? DEFAULT_FULFILMENT_CONFIG;
  return {
    name: 'order-fulfilment',
    groupId: ORDER_FULFILMENT_GROUP,
    inputs: [ORDER_EVENTS, PAYMENT_RESULTS],
    handles: new Set([...ORDER_TYPES, ...PAYMENT_TYPES]),
    stateRecord: STATE_RECORD,

    async inputsFor(records, stateOf) {
      // Facts matter only to a process that has not started: a replayed OrderPlaced is decided as a no-op without them.
      const needFacts = records.filter((r) => r.type === 'OrderPlaced' && (stateOf(splitRecord(r).metadata.aggregateId)?.status ?? 'NEW') === 'NEW');
      const facts = await options.facts.factsFor(needFacts.map((r) => splitRecord<PayloadOf<OrderPlaced>>(r).data));
      const byRecord = new Map(needFacts.map((r, i) => [r, facts[i]]));
      return records.map((r) => toFulfilmentInput(r, (placed) => byRecord.get(placed) ?? { customerExists: false, menuItems: {} }));
    },
    // A dead-lettered input parks its process (keyed <aggregateId>/<version>: the process id); docs/stateful-runtime.md "Parking".
    parking: {},
    processId: (input) => (input.type === 'DeadlineReached' ? input.orderId : input.metadata.aggregateId),
    initialState,
    fromStateRecord: (record) => fromStateRecord(record as OrderFulfilmentState),
    decide(input, state) {
      const decision = decide(input, state, config);
      return { emit: decision.emit.map(fulfilmentMessage), state: decision.state, changed: decision.changed };
    },
    deadlines: (state) => state.deadlines,
    deadlineInput: (orderId, deadline) => ({ type: 'DeadlineReached', orderId, name: deadline.name as FulfilmentDeadlineName, dueAt: deadline.dueAt }),
    status: (state) => state.status,
    counters: (state) => ({ failures: state.failures.length, retries: Math.max(0, state.paymentAttempts - 1) + Math.max(0, state.refundAttempts - 1) }),
    start: async () => options.facts.start?.(),
    stop: async () => options.facts.stop?.(),
  };
}
