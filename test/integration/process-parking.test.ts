/**
 * Parking in the stateful runtime, against the real Kafka and registry
 * (docs/stateful-runtime.md "Parking"), with order fulfilment on topics of its
 * own: a payment answer whose decision throws (a bug, switched by the test
 * double `fault`) in the middle of one order's fulfilment parks that order;
 * its later inputs are recorded, not decided, while 9 other orders complete.
 * The parked state survives a restart with a fresh store (it is on the
 * runtime's parked topic, not in the store). With the bug switched off, a
 * redrive decides the parked chain in order, and the order's state equals an
 * independent fold of its inputs; a second redrive decides nothing. The same
 * through the admin API: 401/403 for non-admins, list, show (headers and
 * trace included), skip with a reason, redrive of a reason, every action on
 * the actions topic with the token's subject.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logLevel } from 'kafkajs';
import { createAdminApp } from '../../consumers/admin-api/app';
import { orderFulfilmentProcess } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.process';
import type { FulfilmentInput } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import type { ProcessDefinition } from '../../consumers/process-managers/runtime/definition';
import { ProcessManagerRuntime } from '../../consumers/process-managers/runtime/runtime';
import { parkingTargetOf, redriveProcesses } from '../../consumers/process-managers/redrive/redrive';
import { authenticate } from '../../infra/auth/express';
import { mintToken } from '../../infra/auth/local-issuer';
import { AvroCodec } from '../../infra/kafka/codec';
import { rootLogger } from '../../infra/logging';
import type { DecodedRecord } from '../../infra/stateful/definition';
import { waitFor } from '../../infra/wait-for';
import type { DeadLetterAction, OrderFulfilmentState } from '../../schemas/generated/types';
import type { Role } from '../../schemas/roles';
import { claimsFor, memorySigningKey, testVerifier } from '../support/auth';
import { testKafka, testRedis, testRegistry, unique, withAdmin } from '../support/kafka';
import { countBy, createFulfilmentTopics, fulfilmentTopicNames, fulfilmentTopics, latestByKey, orderEventsOf, orderMeta, paymentAnswer, paymentResultsOf, placed, readRecords } from '../support/process-managers';
import { produceEnvelopes } from '../support/read-side';

jest.setTimeout(120_000);

const kafka = testKafka('it-process-parking', logLevel.NOTHING);
const codec = new AvroCodec(testRegistry());
const logger = rootLogger.child({ test: 'process-parking' });
logger.level = 'silent';
const PARTITIONS = 6;
const run = unique('it-park-pm');
const made = fulfilmentTopics(run, { parking: true });
const { topics } = made;
const target = parkingTargetOf('order-fulfilment', { topicMap: made.topicMap, groupId: made.groupId });
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const dirs: string[] = [];
const running = new Set<ProcessManagerRuntime<OrderFulfilmentState, FulfilmentInput>>();
const server = http.createServer();
// The admin API's read-model side; untouched here (only the process manager is asked about).
const redis = testRedis();
let base = '';
const tokens = new Map<Role, string>();
const ADMIN_SUBJECT = 'admin-bob';
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** The bug: deciding a payment answer with one of these event ids throws while `on`. */
const fault = { on: true, eventIds: new Set<string>() };
const facts = { factsFor: async (orders: readonly unknown[]) => orders.map(() => ({ customerExists: true, menuItems: { 'm-1': 'AVAILABLE' as const } })) };
// No deadline fires within the test: the payment timeout is ten minutes.
const fulfilment = orderFulfilmentProcess({ facts, config: { paymentTimeoutMs: 600_000, maxPaymentRequests: 1, refundTimeoutMs: 600_000, maxRefundRequests: 1 } });
const definition: ProcessDefinition<OrderFulfilmentState, FulfilmentInput> = {
  ...fulfilment,
  decide: (input, state) => {
    if (fault.on && input.type === 'PaymentAuthorized' && fault.eventIds.has(input.metadata.eventId)) throw new Error('a bug in deciding PaymentAuthorized');
    return fulfilment.decide(input, state);
  },
};

async function start(): Promise<ProcessManagerRuntime<OrderFulfilmentState, FulfilmentInput>> {
  const stateDir = mkdtempSync(join(tmpdir(), 'it-park-pm-'));
  dirs.push(stateDir);
  const runtime = new ProcessManagerRuntime({ kafka, codec, logger, definition, topicMap: made.topicMap, groupId: made.groupId, stateDir, retry: { attempts: 2, initialDelayMs: 20, maxDelayMs: 50 }, offsetFlushMs: 200 });
  await runtime.start();
  running.add(runtime);
  return runtime;
}

async function stop(runtime: ProcessManagerRuntime<OrderFulfilmentState, FulfilmentInput>): Promise<void> {
  await runtime.stop();
  running.delete(runtime);
}

const echo = (orderId: string, type: 'OrderConfirmed' | 'OrderDelivered', version: number) => ({ event: { type, data: {} }, metadata: orderMeta(orderId, version) });

/** Places the orders, waits for their payment requests, then answers (authorized) and echoes their confirmation and delivery. */
async function fulfil(orders: readonly string[], answerHeaders: Readonly<Record<string, string>> = {}): Promise<void> {
  await produceEnvelopes(producer, codec, orderEventsOf(made, PARTITIONS), orders.map((o) => placed(o)));
  await waitFor('a payment request per order', async () => {
    const requested = new Set((await readRecords(kafka, topics.paymentRequests, codec)).filter((r) => r.type === 'PaymentRequested').map((r) => r.key.split('/')[0]));
    return orders.every((o) => requested.has(o)) ? true : undefined;
  });
  await produceEnvelopes(producer, codec, { ...paymentResultsOf(made, PARTITIONS), headers: answerHeaders }, orders.map((o) => paymentAnswer(o, 'PaymentAuthorized')));
  await produceEnvelopes(producer, codec, orderEventsOf(made, PARTITIONS), orders.flatMap((o) => [echo(o, 'OrderConfirmed', 5), echo(o, 'OrderDelivered', 6)]));
}

const states = async (): Promise<Map<string, OrderFulfilmentState>> =>
  new Map([...latestByKey(await readRecords(kafka, topics.changelog, codec))].map(([k, r]) => [k, r.value as unknown as OrderFulfilmentState]));
const confirms = async (): Promise<Map<string, number>> => countBy((await readRecords(kafka, topics.orderCommands, codec)).filter((r) => r.type === 'ConfirmOrder'), (r) => r.key);
const actionsOf = async (orderId: string): Promise<DeadLetterAction[]> =>
  (await readRecords(kafka, topics.actions, codec)).filter((r) => r.key === orderId).map((r) => r.value as unknown as DeadLetterAction);

/** The order in which `fulfil` writes an order's inputs. */
const RANK = ['OrderPlaced', 'PaymentAuthorized', 'OrderConfirmed', 'OrderDelivered'];

/** The order's state folded independently: its inputs read back from the topics, through the unbroken definition. */
async function foldOf(orderId: string): Promise<OrderFulfilmentState> {
  const records = [...(await readRecords(kafka, topics.orderEvents, codec)), ...(await readRecords(kafka, topics.paymentResults, codec))]
    .filter((r) => r.key.startsWith(`${orderId}/`) && fulfilment.handles.has(r.type))
    .sort((a, b) => RANK.indexOf(a.type) - RANK.indexOf(b.type));
  let state = fulfilment.initialState(orderId);
  for (const r of records) {
    const decoded: DecodedRecord = { topic: r.topic, partition: r.partition, offset: r.offset, key: Buffer.from(r.key), rawValue: null, headers: r.headers, type: r.type, fullName: '', value: r.value };
    for (const input of await fulfilment.inputsFor([decoded], () => state)) if (input !== null) state = fulfilment.decide(input, state).state;
  }
  // Through the state record, as the changelog holds it.
  return (await codec.decode(await codec.encode('restaurant.order-fulfilment.changelog', fulfilment.stateRecord, state))).value as OrderFulfilmentState;
}

async function call(method: 'GET' | 'POST', path: string, who: Role | null, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(who === null ? {} : { authorization: `Bearer ${tokens.get(who) as string}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> };
}

beforeAll(async () => {
  await producer.connect();
  await createFulfilmentTopics(kafka, made, PARTITIONS);
  const key = await memorySigningKey();
  for (const role of ['admin', 'manager'] as const) tokens.set(role, await mintToken(key, claimsFor(role, role === 'admin' ? ADMIN_SUBJECT : undefined)));
  server.on(
    'request',
    createAdminApp({ redis, keyspace: 'live', codec, producer, kafka, logger, authenticate: authenticate(testVerifier(key)), processManagers: () => target, requestTimeoutMs: 60_000 }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const r of [...running]) await r.stop();
  await producer.disconnect();
  redis.disconnect();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await withAdmin(kafka, async (admin) => {
    await admin.deleteGroups([made.groupId]).catch(() => undefined);
    await admin.deleteTopics({ topics: fulfilmentTopicNames(made) }).catch(() => undefined);
  });
});

describe('parking in the stateful runtime (order fulfilment)', () => {
  const POISON = 'o-poison';
  const OTHERS = Array.from({ length: 9 }, (_, i) => `o-${i + 1}`);

  it('parks the order whose input fails, keeps the others flowing, survives a fresh store, and redrives once', async () => {
    fault.on = true;
    fault.eventIds = new Set([paymentAnswer(POISON, 'PaymentAuthorized').metadata.eventId]);
    let runtime = await start();
    await fulfil([POISON, ...OTHERS]);

    // The 9 others complete; the poisoned order stops at its last good state, parked with its later inputs behind.
    await waitFor('the other orders to complete', async () => {
      const s = await states();
      return OTHERS.every((o) => s.get(o)?.status === 'COMPLETED') ? true : undefined;
    });
    const parked = await waitFor('the order parked with its 3 inputs', async () => runtime.parked().find((p) => p.processId === POISON && p.inputs === 3));
    expect(parked).toMatchObject({ reason: 'processing-failed', headType: 'PaymentAuthorized', head: expect.stringMatching(new RegExp(`^${topics.paymentResults}:`)) });
    expect(parked.error).toContain('a bug in deciding PaymentAuthorized');
    expect(runtime.parked()).toHaveLength(1);
    expect(runtime.stats()).toMatchObject({ parkedProcesses: 1, parkedInputs: 3, parked: [expect.objectContaining({ processId: POISON, reason: 'processing-failed' })] });
    expect((await states()).get(POISON)?.status).toBe('AWAITING_PAYMENT');
    expect((await confirms()).get(POISON)).toBeUndefined();
    // The head went to the DLQ as well.
    expect((await readRecords(kafka, `${topics.paymentResults}.dlq`)).map((r) => r.key.split('/')[0])).toEqual([POISON]);

    // A restart with a fresh store: still parked (from the parked topic), nothing decided for it.
    await stop(runtime);
    runtime = await start();
    await waitFor('the restarted runtime to hold every partition', async () => (runtime.stats().partitions.length === PARTITIONS ? true : undefined));
    expect(runtime.parked().map((p) => [p.processId, p.inputs])).toEqual([[POISON, 3]]);
    expect((await states()).get(POISON)?.status).toBe('AWAITING_PAYMENT');

    // The bug fixed: a redrive decides the chain in order, in the runtime's transaction, and records the action.
    fault.on = false;
    const ctx = { kafka, codec, producer, actor: 'ops-carol', why: 'fixed in 2.0.1' };
    const [first] = await redriveProcesses(ctx, target, { aggregateId: POISON });
    expect(first).toMatchObject({ aggregateId: POISON, outcome: 'redriven', applied: 3 });
    expect(first?.events).toHaveLength(3);
    const after = await states();
    expect(after.get(POISON)?.status).toBe('COMPLETED');
    expect(after.get(POISON)).toEqual(await foldOf(POISON));
    expect(runtime.parked()).toEqual([]);
    expect((await confirms()).get(POISON)).toBe(1);

    // Twice: nothing to do, nothing decided again.
    const [second] = await redriveProcesses(ctx, target, { aggregateId: POISON });
    expect(second).toMatchObject({ outcome: 'not-parked', applied: 0 });
    expect((await confirms()).get(POISON)).toBe(1);
    expect((await actionsOf(POISON)).map((a) => [a.action, a.outcome, a.applied, a.actor, a.why, a.consumerGroup, a.readModel])).toEqual([
      ['redrive', 'redriven', 3, 'ops-carol', 'fixed in 2.0.1', made.groupId, 'order-fulfilment'],
      ['redrive', 'not-parked', 0, 'ops-carol', 'fixed in 2.0.1', made.groupId, 'order-fulfilment'],
    ]);
    // Every other order confirmed once.
    const counts = await confirms();
    for (const o of OTHERS) expect(counts.get(o)).toBe(1);
  });

  it('through the admin API: admins only, list, show, skip with a reason, redrive, each recorded', async () => {
    const ORDER = 'o-admin';
    fault.on = true;
    fault.eventIds = new Set([paymentAnswer(ORDER, 'PaymentAuthorized').metadata.eventId]);
    if (running.size === 0) await start();
    // The poison answer arrives traced: show must give its traceparent.
    await fulfil([ORDER], { traceparent: TRACEPARENT });
    const runtime = [...running][0] as ProcessManagerRuntime<OrderFulfilmentState, FulfilmentInput>;
    await waitFor('the order parked with its 3 inputs', async () => runtime.parked().find((p) => p.processId === ORDER && p.inputs === 3));

    expect((await call('GET', '/dead-letters?model=order-fulfilment', null)).status).toBe(401);
    expect((await call('GET', '/dead-letters?model=order-fulfilment', 'manager')).status).toBe(403);
    expect((await call('POST', '/dead-letters/order-fulfilment/redrive', 'manager', { aggregateId: ORDER, why: 'no' })).status).toBe(403);

    // By name or by the real consumer group (this runtime's topics are the test's own either way).
    expect((await call('GET', `/dead-letters?model=restaurant.process-manager.order-fulfilment&aggregate=${ORDER}`, 'admin')).status).toBe(200);
    const listed = await call('GET', `/dead-letters?model=order-fulfilment&aggregate=${ORDER}`, 'admin');
    expect(listed.status).toBe(200);
    expect(listed.body.deadLetters).toEqual([expect.objectContaining({ processId: ORDER, processManager: 'order-fulfilment', consumerGroup: made.groupId, reason: 'processing-failed', inputs: 3 })]);
    const shown = await call('GET', `/dead-letters/order-fulfilment/${ORDER}`, 'admin');
    expect(shown.status).toBe(200);
    const chain = shown.body.chain as Array<{ position: string; type: string; role: string; headers: Record<string, string>; value: { metadata?: { aggregateId: string } } }>;
    expect(chain.map((c) => [c.type, c.role])).toEqual([
      ['PaymentAuthorized', 'head'],
      ['OrderConfirmed', 'behind'],
      ['OrderDelivered', 'behind'],
    ]);
    expect(chain[0]?.headers).toMatchObject({ 'event-type': 'PaymentAuthorized', traceparent: TRACEPARENT });
    expect(chain[0]?.value.metadata?.aggregateId).toBe(ORDER);

    // Bad input changes nothing.
    expect((await call('POST', `/dead-letters/order-fulfilment/${ORDER}/skip`, 'admin', {})).status).toBe(400);
    expect((await call('POST', '/dead-letters/order-fulfilment/nobody/skip', 'admin', { why: 'x' })).status).toBe(404);

    // Skip the confirmation echo (not the head), then redrive with the bug fixed: the answer and the delivery are decided.
    const skipped = await call('POST', `/dead-letters/order-fulfilment/${ORDER}/skip`, 'admin', { why: 'a duplicate echo', event: chain[1]?.position });
    expect(skipped.status).toBe(200);
    expect(skipped.body).toMatchObject({ outcome: 'skipped', events: [chain[1]?.position], unparked: false });
    fault.on = false;
    // Every process parked for this reason (only this one is).
    const redriven = await call('POST', '/dead-letters/order-fulfilment/redrive', 'admin', { reason: 'processing-failed', why: 'fixed in 2.0.1' });
    expect(redriven.status).toBe(200);
    expect(redriven.body).toMatchObject({ processManager: 'order-fulfilment', applied: 2, outcomes: [expect.objectContaining({ aggregateId: ORDER, outcome: 'redriven' })] });
    expect((await states()).get(ORDER)?.status).toBe('COMPLETED');
    expect((await confirms()).get(ORDER)).toBe(1);
    expect((await call('GET', `/dead-letters/order-fulfilment/${ORDER}`, 'admin')).status).toBe(404);
    expect((await actionsOf(ORDER)).map((a) => [a.action, a.outcome, a.actor, a.why])).toEqual([
      ['skip', 'skipped', ADMIN_SUBJECT, 'a duplicate echo'],
      ['redrive', 'redriven', ADMIN_SUBJECT, 'fixed in 2.0.1'],
    ]);
  });
});
