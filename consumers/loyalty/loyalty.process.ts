// Loyalty points on the process-manager runtime: choreography. It consumes the
// order's own events with a consumer group of its own; the fulfilment process
// does not know it exists. Its per-order state goes to
// restaurant.loyalty.changelog and each award to restaurant.loyalty.events as
// a PointsAwarded event (key <orderId>/1, event id = the award id), in one
// transaction with the consumed offsets: an order awards once, and a replay
// awards nothing.
import type { EventMetadata, LoyaltyOrderState } from '../../schemas/generated/types';
import type { OrderEvent } from '../../schemas/messages';
import { systemActor } from '../../schemas/roles';
import { AGGREGATE_NAMESPACES, topicName } from '../../schemas/topics';
import { eventMessage, splitRecord, type Outgoing, type ProcessDefinition } from '../process-managers/runtime/definition';
import { decideLoyalty, initialLoyaltyState, type PointsAwarded } from './loyalty.policy';

export const LOYALTY_GROUP = 'restaurant.loyalty';
/** The actor recorded on the events the loyalty policy writes. */
export const LOYALTY_ACTOR = 'loyalty';
const LOYALTY_EVENTS = topicName('loyalty', 'events');
/** The order events the policy reacts to; the rest are skipped by header (versions still only grow). */
const INPUT_TYPES = ['OrderPlaced', 'OrderDelivered'] as const;

export interface LoyaltyInput {
  readonly event: OrderEvent;
  readonly metadata: EventMetadata;
}

/** An award as a PointsAwarded event in the order's loyalty stream, caused by the OrderDelivered it came from. */
export function awardMessage(award: PointsAwarded, state: LoyaltyOrderState, cause: EventMetadata): Outgoing {
  const metadata: EventMetadata = {
    eventId: award.awardId,
    aggregateId: award.orderId,
    version: 1,
    occurredAt: award.at,
    commandId: cause.eventId,
    correlationId: cause.correlationId,
    causationId: cause.eventId,
    actor: systemActor(LOYALTY_ACTOR),
  };
  const orderTotal = state.total;
  if (orderTotal === null) throw new Error(`order ${award.orderId}: an award without a known total`);
  return eventMessage(LOYALTY_EVENTS, AGGREGATE_NAMESPACES.loyalty, 'PointsAwarded', { customerId: award.customerId, orderId: award.orderId, points: award.points, orderTotal }, metadata);
}

export function loyaltyProcess(): ProcessDefinition<LoyaltyOrderState, LoyaltyInput> {
  return {
    name: 'loyalty',
    groupId: LOYALTY_GROUP,
    inputs: [topicName('order', 'events')],
    handles: new Set(INPUT_TYPES),
    stateRecord: 'restaurant.loyalty.LoyaltyOrderState',
    async inputsFor(records) {
      return records.map((r) => {
        const { metadata, data } = splitRecord<OrderEvent['data']>(r);
        return { event: { type: r.type, data } as OrderEvent, metadata };
      });
    },
    // A dead-lettered input parks its process (keyed <aggregateId>/<version>: the process id); docs/stateful-runtime.md "Parking".
    parking: {},
    processId: (input) => input.metadata.aggregateId,
    initialState: initialLoyaltyState,
    fromStateRecord: (record) => record as LoyaltyOrderState,
    decide(input, state) {
      const decision = decideLoyalty(input.event, input.metadata, state);
      // The policy decides from the state before the event (OrderPlaced filled in the customer and total).
      return { emit: decision.awards.map((a) => awardMessage(a, state, input.metadata)), state: decision.state, changed: decision.state !== state };
    },
    deadlines: () => [],
    deadlineInput: () => {
      throw new Error('the loyalty policy has no deadlines');
    },
    status: (state) => (state.awarded ? 'AWARDED' : state.customerId !== null ? 'PLACED' : 'OPEN'),
  };
}
