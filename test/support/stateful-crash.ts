// What the stateful-runtime crash tests and their child process share: the
// topics of a run, and order fulfilment with every customer and item known.
import { orderFulfilmentProcess } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.process';
import type { FulfilmentInput } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import type { ProcessDefinition } from '../../consumers/process-managers/runtime/definition';
import type { OrderFulfilmentState } from '../../schemas/generated/types';
import { fulfilmentTopics, type FulfilmentTopics } from './process-managers';

/** The topics of a crash run: order fulfilment's on topics of their own (test/support/process-managers.ts). */
export const crashTopics = (run: string): FulfilmentTopics => fulfilmentTopics(run);

export function fulfilment(paymentTimeoutMs: number): ProcessDefinition<OrderFulfilmentState, FulfilmentInput> {
  return orderFulfilmentProcess({
    facts: { factsFor: async (orders) => orders.map(() => ({ customerExists: true, menuItems: { 'm-1': 'AVAILABLE' } })) },
    config: { paymentTimeoutMs, maxPaymentRequests: 1, refundTimeoutMs: 600_000, maxRefundRequests: 1 },
  });
}
