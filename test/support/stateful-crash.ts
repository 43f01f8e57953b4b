// What the stateful-runtime crash tests and their child process share: the
// topics of a run, and order fulfilment with every customer and item known.
import { orderFulfilmentProcess } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.process';
import type { FulfilmentInput } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import type { ProcessDefinition } from '../../consumers/process-managers/runtime/definition';
import type { OrderFulfilmentState } from '../../schemas/generated/types';

export function crashTopics(run: string) {
  const topics = {
    orderEvents: `${run}.order.events`,
    paymentRequests: `${run}.payment.requests`,
    paymentResults: `${run}.payment.results`,
    orderCommands: `${run}.order.commands`,
    changelog: `${run}.order-fulfilment.changelog`,
  };
  const topicMap: Record<string, string> = {
    'restaurant.order.events': topics.orderEvents,
    'restaurant.payment.requests': topics.paymentRequests,
    'restaurant.payment.results': topics.paymentResults,
    'restaurant.order.commands': topics.orderCommands,
    'restaurant.order-fulfilment.changelog': topics.changelog,
  };
  return { topics, topicMap, groupId: `${run}.fulfilment` };
}

export function fulfilment(paymentTimeoutMs: number): ProcessDefinition<OrderFulfilmentState, FulfilmentInput> {
  return orderFulfilmentProcess({
    facts: { factsFor: async (orders) => orders.map(() => ({ customerExists: true, menuItems: { 'm-1': 'AVAILABLE' } })) },
    config: { paymentTimeoutMs, maxPaymentRequests: 1, refundTimeoutMs: 600_000, maxRefundRequests: 1 },
  });
}
