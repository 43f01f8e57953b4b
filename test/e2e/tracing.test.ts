/**
 * Distributed tracing against the real stack and a real Zipkin: the roles run
 * as processes with TRACING=zipkin (every trace recorded), a client sends one
 * `traceparent` with every request of an order, and then
 *
 * (a) an order from POST /orders to delivery and (b) an order cancelled after
 *     payment and refunded each make ONE trace, fetched from Zipkin's own API
 *     (/api/v2/trace/{id}), with spans of every role it passed through
 *     (gateway, command processor, projectors, order fulfilment, payment
 *     simulator), each step a child of the step that caused it, so the chain
 *     from the refund back to the cancelling request reads in causal order;
 * (c) every record the order caused, on every topic it touched (commands,
 *     events, replies, payment messages, process-manager changelogs), carries
 *     that trace id in its `traceparent` header.
 */
import { ORDER_FULFILMENT_GROUP } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.process';
import { AvroCodec } from '../../infra/kafka/codec';
import type { FulfilmentStatus } from '../../schemas/generated/types';
import { changelogTopicName, COMMAND_REPLIES_TOPIC, paymentTopicName, topicName } from '../../schemas/topics';
import { call, settledStatus, type Reply } from '../support/http';
import { testKafka, testRegistry, unique } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { latestByKey, readRecords, type StoredRecord } from '../support/process-managers';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';
import { ancestry, clientTrace, ensureZipkin, postSpans, zipkinTrace, type ZipkinSpan } from '../support/zipkin';

jest.setTimeout(600_000);

const kafka = testKafka('e2e-tracing');
const codec = new AvroCodec(testRegistry());
const run = unique('trace').toLowerCase();
const env = {
  TRACING: 'zipkin',
  TRACING_SAMPLE_RATIO: '1',
  COMMAND_WAIT_MS: '20000',
  // Every payment authorized, quickly: the answers are the simulator's deadlines, fired in the trace that set them.
  PAYMENT_SIMULATOR_SEED: `e2e-${run}`,
  PAYMENT_SIMULATOR_DECLINE_SHARE: '0',
  PAYMENT_SIMULATOR_STALL_SHARE: '0',
  PAYMENT_SIMULATOR_ANSWER_DELAY_MS: '200-600',
  PAYMENT_SIMULATOR_REFUND_DELAY_MS: '200-600',
};
const ROLES = ['gateway', 'command-processor', 'projectors', 'process-manager:order-fulfilment', 'payment-simulator'] as const;
/** Zipkin's service name of each role's process (`restaurant-<role>`, lower-cased by Zipkin). */
const SERVICES = ROLES.map((r) => `restaurant-${r.replace(':', '-')}`);
const TOPICS = [
  topicName('order', 'commands'),
  topicName('order', 'events'),
  paymentTopicName('requests'),
  paymentTopicName('results'),
  COMMAND_REPLIES_TOPIC,
  changelogTopicName('order-fulfilment'),
  changelogTopicName('payment-simulator'),
];
const address = { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' };

let zipkin: string;
let gateway: RoleProcess;
const roles: RoleProcess[] = [];
let menuItemId: string;
let customerId: string;

beforeAll(async () => {
  zipkin = await ensureZipkin();
  // One after the other: five processes starting at once on a loaded two-core machine can each take longer than a start-up allows.
  for (const role of ROLES) roles.push(await startRole(role, env));
  gateway = roles[0] as RoleProcess;
  const dish = await send('/menu/items', { name: `Traced dish ${run}`, description: 'e2e', category: 'MAIN', price: { amountMinor: 1250, currency: 'EUR' } });
  expect(dish.status).toBe(201);
  menuItemId = dish.body.aggregateId as string;
  const customer = await send('/customers', { name: 'Traced customer', email: `${run}@example.com` });
  expect(customer.status).toBe(201);
  customerId = customer.body.aggregateId as string;
});

afterAll(async () => {
  await Promise.all(roles.map((r) => r.stop().catch(() => null)));
});

/** A command through the gateway (with the client's trace when given), followed to its outcome when answered 202. */
async function send(path: string, body: unknown = {}, traceparent?: string): Promise<Reply> {
  const headers: Record<string, string> = traceparent === undefined ? {} : { traceparent };
  const reply = await call(gateway.url, 'POST', path, body, headers);
  if (reply.status !== 202) return reply;
  const commandId = reply.body.commandId as string;
  return waitFor(`the outcome of ${path}`, async () => {
    const r = await call(gateway.url, 'GET', `/commands/${commandId}`, undefined, headers);
    if (r.status !== 200 || r.body.status === 'pending') return undefined;
    return { ...r, status: settledStatus(path, r.body) };
  }, 60_000, 250);
}

async function fulfilmentStatus(orderId: string): Promise<FulfilmentStatus | undefined> {
  const records = (await readRecords(kafka, changelogTopicName('order-fulfilment'), codec)).filter((r) => r.key === orderId);
  return (latestByKey(records).get(orderId)?.value as { status?: FulfilmentStatus } | undefined)?.status;
}

const untilStatus = (orderId: string, status: FulfilmentStatus): Promise<true> =>
  waitFor(`order ${orderId} to be ${status} in ${ORDER_FULFILMENT_GROUP}`, async () => ((await fulfilmentStatus(orderId)) === status ? true : undefined), 120_000, 500);

/** Opens, fills and places an order within the client's trace; waits until the fulfilment process has it paid and confirmed. */
async function placeAndConfirm(traceparent: string): Promise<string> {
  const opened = await send('/orders', { customerId }, traceparent);
  expect(opened.status).toBe(201);
  const orderId = opened.body.aggregateId as string;
  expect((await send(`/orders/${orderId}/items`, { menuItemId, quantity: 2 }, traceparent)).status).toBe(200);
  expect((await send(`/orders/${orderId}/delivery-address`, { address }, traceparent)).status).toBe(200);
  expect((await send(`/orders/${orderId}/place`, {}, traceparent)).status).toBe(200);
  await untilStatus(orderId, 'CONFIRMED');
  return orderId;
}

/** The client's own span, the root of the trace, posted to Zipkin as an instrumented client would export it. */
async function postRoot(trace: ReturnType<typeof clientTrace>, name: string, startedAt: number): Promise<void> {
  await postSpans(zipkin, [{ traceId: trace.traceId, id: trace.rootId, name, kind: 'CLIENT', timestamp: startedAt * 1000, duration: Math.max(1, Date.now() - startedAt) * 1000, localEndpoint: { serviceName: 'e2e-client' } }]);
}

/** Waits until Zipkin has every span named in `names` (lower case: Zipkin lower-cases names) for the trace; returns the trace. */
async function traceWith(traceId: string, names: readonly string[]): Promise<ZipkinSpan[]> {
  let last: ZipkinSpan[] = [];
  try {
    return await waitFor(`trace ${traceId} in Zipkin with ${names.join(', ')}`, async () => {
      last = await zipkinTrace(zipkin, traceId);
      const have = new Set(last.map((s) => s.name));
      return names.every((n) => have.has(n)) ? last : undefined;
    }, 60_000, 1_000);
  } catch (error) {
    throw new Error(`${(error as Error).message}; Zipkin has: ${[...new Set(last.map((s) => s.name))].sort().join(', ')}`, { cause: error });
  }
}

const named = (spans: readonly ZipkinSpan[], name: string): ZipkinSpan => {
  const found = spans.filter((s) => s.name === name).sort((a, b) => (a.timestamp ?? 0) - (b.timestamp ?? 0))[0];
  if (found === undefined) throw new Error(`no span ${name}`);
  return found;
};

/** Every span that has its parent in the trace starts no earlier than the parent (clocks of one machine). */
function expectCausalTimestamps(spans: readonly ZipkinSpan[]): void {
  const byId = new Map(spans.map((s) => [s.id, s]));
  const backwards = spans.filter((s) => s.parentId !== undefined && byId.has(s.parentId) && (s.timestamp ?? 0) < (byId.get(s.parentId)?.timestamp ?? 0));
  expect(backwards.map((s) => `${s.name} before its parent ${byId.get(s.parentId as string)?.name}`)).toEqual([]);
}

/** Every record on the order's topics that mentions the order carries the trace id in `traceparent`. */
async function expectTraceInHeaders(orderId: string, traceId: string, expectedTypes: readonly string[]): Promise<void> {
  const records: StoredRecord[] = [];
  for (const topic of TOPICS) records.push(...(await readRecords(kafka, topic, codec)).filter((r) => r.key.startsWith(orderId) || JSON.stringify(r.value).includes(orderId)));
  for (const type of expectedTypes) expect({ type, found: records.some((r) => r.type === type) }).toEqual({ type, found: true });
  const untraced = records.filter((r) => r.headers.traceparent?.split('-')[1] !== traceId);
  expect(untraced.map((r) => `${r.topic}/${r.partition}@${r.offset} ${r.type}: ${r.headers.traceparent ?? 'no traceparent'}`)).toEqual([]);
  // Correlation ids travel beside it, as before.
  const eventTopics = new Set([topicName('order', 'events'), paymentTopicName('requests'), paymentTopicName('results')]);
  expect(records.filter((r) => eventTopics.has(r.topic) && r.headers['correlation-id'] === undefined).map((r) => r.type)).toEqual([]);
}

describe('one order, one trace in Zipkin', () => {
  it('follows an order from POST /orders to delivery through every role', async () => {
    const trace = clientTrace();
    const startedAt = Date.now();
    const orderId = await placeAndConfirm(trace.traceparent);
    for (const step of ['start-preparation', 'ready', 'dispatch', 'deliver']) expect((await send(`/orders/${orderId}/${step}`, {}, trace.traceparent)).status).toBe(200);
    await untilStatus(orderId, 'COMPLETED');
    await postRoot(trace, 'e2e order to delivery', startedAt);

    const spans = await traceWith(trace.traceId, [
      'gateway post /orders',
      'gateway post /orders/:orderid/place',
      'command-processor decide placeorder',
      'order-fulfilment step orderplaced',
      'payment-simulator step paymentrequested',
      'payment-simulator deadline',
      'order-fulfilment step paymentauthorized',
      'command-processor decide confirmorder',
      'gateway post /orders/:orderid/deliver',
      'command-processor decide confirmdelivery',
      'order-fulfilment step orderdelivered',
      'projector orders batch',
    ]);
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([trace.traceId]));
    expect(new Set(spans.map((s) => s.localEndpoint?.serviceName))).toEqual(new Set([...SERVICES, 'e2e-client']));
    // The confirmation, back through the payment to the request that placed the order and the client.
    expect(ancestry(spans, named(spans, 'command-processor decide confirmorder'))).toEqual([
      'command-processor decide confirmorder',
      'order-fulfilment step paymentauthorized',
      'payment-simulator deadline',
      'payment-simulator step paymentrequested',
      'order-fulfilment step orderplaced',
      'command-processor decide placeorder',
      'gateway post /orders/:orderid/place',
      'e2e order to delivery',
    ]);
    expect(ancestry(spans, named(spans, 'order-fulfilment step orderdelivered')).slice(1)).toEqual(['command-processor decide confirmdelivery', 'gateway post /orders/:orderid/deliver', 'e2e order to delivery']);
    // A projection batch is a child of one of its records' steps and linked to the others: here, under a decision of this order.
    expect(ancestry(spans, named(spans, 'projector orders batch'))[1]).toMatch(/^command-processor decide /);
    expectCausalTimestamps(spans);

    await expectTraceInHeaders(orderId, trace.traceId, ['OpenOrder', 'PlaceOrder', 'OrderPlaced', 'PaymentRequested', 'PaymentAuthorized', 'ConfirmOrder', 'OrderConfirmed', 'ConfirmDelivery', 'OrderDelivered', 'CommandReply', 'OrderFulfilmentState']);
  });

  it('follows a late cancellation and its refund to the end', async () => {
    const trace = clientTrace();
    const startedAt = Date.now();
    const orderId = await placeAndConfirm(trace.traceparent);
    expect((await send(`/orders/${orderId}/cancel`, { reason: 'changed my mind' }, trace.traceparent)).status).toBe(200);
    await untilStatus(orderId, 'REFUNDED');
    await postRoot(trace, 'e2e late cancellation', startedAt);

    const spans = await traceWith(trace.traceId, [
      'gateway post /orders/:orderid/cancel',
      'command-processor decide cancelorder',
      'order-fulfilment step ordercancelled',
      'payment-simulator step refundrequested',
      'order-fulfilment step refundissued',
    ]);
    expect(new Set(spans.map((s) => s.localEndpoint?.serviceName))).toEqual(new Set([...SERVICES, 'e2e-client']));
    // The refund is the simulator's deadline, fired later from the context stored with it: still the order's trace, in causal order.
    expect(ancestry(spans, named(spans, 'order-fulfilment step refundissued'))).toEqual([
      'order-fulfilment step refundissued',
      'payment-simulator deadline',
      'payment-simulator step refundrequested',
      'order-fulfilment step ordercancelled',
      'command-processor decide cancelorder',
      'gateway post /orders/:orderid/cancel',
      'e2e late cancellation',
    ]);
    expectCausalTimestamps(spans);

    await expectTraceInHeaders(orderId, trace.traceId, ['PlaceOrder', 'OrderPlaced', 'CancelOrder', 'OrderCancelled', 'RefundRequested', 'RefundIssued', 'CommandReply', 'OrderFulfilmentState']);
  });
});
