/**
 * Process managers as users run them: real command-processor, gateway,
 * order-fulfilment, payment-simulator and loyalty processes on the real topics.
 *
 * (a) 500 orders through the gateway, the simulator declining ~10% and never
 *     answering ~5% (seeded), plus orders that fail the placement checks; the
 *     fulfilment process is killed with SIGKILL halfway and restarted. Every
 *     order ends in exactly one terminal state, the one the simulator's seed
 *     implies (and the counts match predictOutcomes); each follow-up message
 *     exists once in the topics; deadlines that were pending at the kill fire
 *     after the restart; confirmed orders are delivered (loyalty points, once)
 *     or cancelled (refund: compensation).
 * (b) The fulfilment group reset to the earliest offsets and run again: no new
 *     message, no changed state.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { paymentFate, predictOutcomes, type SimulatorConfig } from '../../consumers/payment-simulator/payment-simulator';
import { ORDER_FULFILMENT_GROUP } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.process';
import { fulfilmentIds, isTerminal, TERMINAL_STATUSES } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import { loyaltyAwardId } from '../../consumers/loyalty/loyalty.policy';
import { AvroCodec } from '../../infra/kafka/codec';
import type { FulfilmentStatus, OrderFulfilmentState } from '../../schemas/generated/types';
import { changelogTopicName, paymentTopicName, topicName } from '../../schemas/topics';
import { call, pool, seeded, settledStatus, type Reply } from '../support/http';
import { testKafka, testRegistry, unique, withAdmin } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { committedUpTo, countBy, endOffsets, latestByKey, readRecords, type StoredRecord } from '../support/process-managers';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';

jest.setTimeout(600_000);

const kafka = testKafka('e2e-process-managers');
const codec = new AvroCodec(testRegistry());
const run = unique('pm').toLowerCase();
const SEED = `e2e-${run}`;
/** Long enough that a restart of the fulfilment process (session timeout included) ends well inside it. */
const PAYMENT_TIMEOUT_MS = 30_000;
const SIMULATOR: SimulatorConfig = { declineShare: 0.1, stallShare: 0.05, answerDelay: { minMs: 20, maxMs: 800 }, refundDelay: { minMs: 20, maxMs: 500 } };
// The stateful roles keep their partition stores here: the fulfilment process restarted after its SIGKILL restores by delta.
const stateDir = mkdtempSync(join(tmpdir(), 'e2e-process-managers-state-'));
const env = {
  STATE_DIR: stateDir,
  COMMAND_WAIT_MS: '20000',
  FULFILMENT_PAYMENT_TIMEOUT_MS: String(PAYMENT_TIMEOUT_MS),
  FULFILMENT_REFUND_TIMEOUT_MS: '20000',
  PAYMENT_SIMULATOR_SEED: SEED,
  PAYMENT_SIMULATOR_DECLINE_SHARE: String(SIMULATOR.declineShare),
  PAYMENT_SIMULATOR_STALL_SHARE: String(SIMULATOR.stallShare),
  PAYMENT_SIMULATOR_ANSWER_DELAY_MS: `${SIMULATOR.answerDelay.minMs}-${SIMULATOR.answerDelay.maxMs}`,
  PAYMENT_SIMULATOR_REFUND_DELAY_MS: `${SIMULATOR.refundDelay.minMs}-${SIMULATOR.refundDelay.maxMs}`,
};
const ORDERS = 500;
const UNKNOWN_CUSTOMER_ORDERS = 10;
const SOLD_OUT_ORDERS = 10;
const TOPICS = {
  orderCommands: topicName('order', 'commands'),
  orderEvents: topicName('order', 'events'),
  paymentRequests: paymentTopicName('requests'),
  paymentResults: paymentTopicName('results'),
  loyaltyEvents: topicName('loyalty', 'events'),
  changelog: changelogTopicName('order-fulfilment'),
};
const random = seeded(20_251_123);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const address = { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' };

const roles: RoleProcess[] = [];
let gateway: RoleProcess;
let fulfilment: RoleProcess;

beforeAll(async () => {
  const [processor, gw, pm, simulator, loyalty] = await Promise.all([
    startRole('command-processor', env),
    startRole('gateway', env),
    startRole('process-manager:order-fulfilment', env),
    startRole('payment-simulator', env),
    startRole('loyalty', env),
  ]);
  roles.push(processor, gw, pm, simulator, loyalty);
  [gateway, fulfilment] = [gw, pm];
});

afterAll(async () => {
  await Promise.all(roles.map((r) => r.stop().catch(() => null)));
  rmSync(stateDir, { recursive: true, force: true });
});

/** A command through the gateway, followed to its outcome when the gateway answered 202. */
async function send(path: string, body: unknown = {}): Promise<Reply> {
  const reply = await call(gateway.url, 'POST', path, body);
  if (reply.status !== 202) return reply;
  const commandId = reply.body.commandId as string;
  return waitFor(`the outcome of ${path}`, async () => {
    const r = await call(gateway.url, 'GET', `/commands/${commandId}`);
    if (r.status !== 200 || r.body.status === 'pending') return undefined;
    return { ...r, status: settledStatus(path, r.body) };
  }, 60_000, 250);
}

/** A kitchen step that needs the order confirmed first: the confirmation is the fulfilment process's, a moment behind (409 until then). */
async function sendOnceConfirmed(path: string, body: unknown = {}): Promise<Reply> {
  return waitFor(`${path} accepted`, async () => {
    const r = await send(path, body);
    if (r.status !== 200 && r.status !== 409) throw new Error(`${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
    return r.status === 200 ? r : undefined;
  }, 60_000, 300);
}

async function fulfilmentStates(ids: ReadonlySet<string>): Promise<Map<string, OrderFulfilmentState>> {
  const latest = latestByKey((await readRecords(kafka, TOPICS.changelog, codec)).filter((r) => ids.has(r.key)));
  return new Map([...latest].map(([id, r]) => [id, r.value as unknown as OrderFulfilmentState]));
}

/** Waits until every order's process is in one of `statuses` (bounded); returns the states. */
async function untilAll(ids: ReadonlySet<string>, statuses: ReadonlySet<FulfilmentStatus>, what: string, timeoutMs: number): Promise<Map<string, OrderFulfilmentState>> {
  return waitFor(
    what,
    async () => {
      const states = await fulfilmentStates(ids);
      return [...ids].every((id) => statuses.has(states.get(id)?.status ?? 'NEW')) ? states : undefined;
    },
    timeoutMs,
    2_000,
  );
}

interface PlacedOrder {
  readonly orderId: string;
  placedAt: number;
}

const ids = { normal: [] as PlacedOrder[], unknownCustomer: [] as string[], soldOut: [] as string[] };
const killed = { at: 0, restarted: 0 };

describe('order fulfilment with payment, deadlines and compensation', () => {
  it('ends every order in the one terminal state the seed implies, once, across a SIGKILL of the process manager', async () => {
    // The menu and the customers.
    const dishes: string[] = [];
    for (let i = 0; i < 8; i += 1) {
      const r = await send('/menu/items', { name: `PM dish ${i}`, description: 'e2e', category: 'MAIN', price: { amountMinor: 700 + 150 * i, currency: 'EUR' } });
      expect(r.status).toBe(201);
      dishes.push(r.body.aggregateId as string);
    }
    const doomed = await send('/menu/items', { name: 'PM soon sold out', description: 'e2e', category: 'DESSERT', price: { amountMinor: 650, currency: 'EUR' } });
    expect(doomed.status).toBe(201);
    const doomedId = doomed.body.aggregateId as string;
    const customers = await pool(
      Array.from({ length: 30 }, (_, i) => async () => {
        const r = await send('/customers', { name: `PM customer ${i}`, email: `pm${i}-${run}@example.com` });
        expect(r.status).toBe(201);
        return r.body.aggregateId as string;
      }),
      8,
    );

    // Orders that will fail the placement checks: an unknown customer, an item sold out before placing.
    const basket = async (customerId: string, items: ReadonlyArray<readonly [string, number]>): Promise<string> => {
      const opened = await send('/orders', { customerId });
      expect(opened.status).toBe(201);
      const orderId = opened.body.aggregateId as string;
      for (const [menuItemId, quantity] of items) expect((await send(`/orders/${orderId}/items`, { menuItemId, quantity })).status).toBe(200);
      expect((await send(`/orders/${orderId}/delivery-address`, { address })).status).toBe(200);
      return orderId;
    };
    const place = async (orderId: string): Promise<void> => expect((await send(`/orders/${orderId}/place`)).status).toBe(200);
    ids.soldOut.push(...(await pool(Array.from({ length: SOLD_OUT_ORDERS }, () => () => basket(pick(customers), [[doomedId, 1]])), 8)));
    expect((await send(`/menu/items/${doomedId}/sold-out`)).status).toBe(200);
    ids.unknownCustomer.push(...(await pool(Array.from({ length: UNKNOWN_CUSTOMER_ORDERS }, (_, i) => () => basket(`ghost-${run}-${i}`, [[pick(dishes), 1]])), 8)));
    await pool([...ids.soldOut, ...ids.unknownCustomer].map((id) => () => place(id)), 8);

    // 500 ordinary orders; the fulfilment process is killed once enough are placed and stalled payments are pending.
    const plans = Array.from({ length: ORDERS }, () => {
      const first = pick(dishes);
      const second = pick(dishes);
      return { customerId: pick(customers), items: (second === first ? [[first, 2]] : [[first, 1], [second, 1]]) as Array<readonly [string, number]> };
    });
    let killing: Promise<void> | undefined;
    const maybeKill = (): void => {
      if (killing !== undefined || ids.normal.filter((o) => o.placedAt > 0).length < ORDERS * 0.4) return;
      const now = Date.now();
      const pendingStalls = ids.normal.filter((o) => o.placedAt > 0 && o.placedAt + PAYMENT_TIMEOUT_MS - 10_000 > now && paymentFate(fulfilmentIds.payment(o.orderId), SEED, SIMULATOR).outcome === 'stall');
      if (pendingStalls.length < 3) return;
      killing = (async () => {
        killed.at = Date.now();
        await fulfilment.kill();
        fulfilment = await startRole('process-manager:order-fulfilment', env);
        roles.push(fulfilment);
        killed.restarted = Date.now();
      })();
    };
    await pool(
      plans.map((plan) => async () => {
        const orderId = await basket(plan.customerId, plan.items);
        const order: PlacedOrder = { orderId, placedAt: 0 };
        ids.normal.push(order);
        await place(orderId);
        order.placedAt = Date.now();
        maybeKill();
      }),
      16,
    );
    expect(killing).toBeDefined();
    await killing;
    expect(killed.restarted).toBeGreaterThan(killed.at);

    // What the seed implies for the ordinary orders.
    const normalIds = ids.normal.map((o) => o.orderId);
    const fate = new Map(normalIds.map((id) => [id, paymentFate(fulfilmentIds.payment(id), SEED, SIMULATOR).outcome]));
    const predicted = predictOutcomes(normalIds, SEED, SIMULATOR, PAYMENT_TIMEOUT_MS);
    expect(predicted.declined).toBeGreaterThan(0);
    expect(predicted.stalled).toBeGreaterThan(0);
    const all = new Set([...normalIds, ...ids.unknownCustomer, ...ids.soldOut]);

    // Payment settled (confirmed, declined, timed out) for every order; checks failed for the others.
    const settled = await untilAll(all, new Set<FulfilmentStatus>(['CONFIRMED', ...TERMINAL_STATUSES]), 'every payment to be settled', PAYMENT_TIMEOUT_MS + 120_000);
    const confirmed = normalIds.filter((id) => settled.get(id)?.status === 'CONFIRMED');
    expect(confirmed.length).toBe(predicted.confirmed);

    // The kitchen delivers most confirmed orders; some are cancelled after payment (the refund compensates).
    const cancelAfterPayment = new Set(confirmed.filter(() => random() < 0.15));
    await pool(
      confirmed.map((orderId) => async () => {
        if (cancelAfterPayment.has(orderId)) {
          await sendOnceConfirmed(`/orders/${orderId}/cancel`, { reason: 'changed my mind' });
          return;
        }
        for (const step of ['start-preparation', 'ready', 'dispatch', 'deliver']) await sendOnceConfirmed(`/orders/${orderId}/${step}`);
      }),
      16,
    );
    const final = await untilAll(all, TERMINAL_STATUSES, 'every process to reach a terminal state', 120_000);

    // Exactly the terminal state each order's fate implies.
    const expectedStatus = (id: string): FulfilmentStatus => {
      if (ids.unknownCustomer.includes(id) || ids.soldOut.includes(id)) return 'REJECTED';
      const outcome = fate.get(id);
      if (outcome === 'stall') return 'TIMED_OUT';
      if (outcome === 'decline') return 'REJECTED';
      return cancelAfterPayment.has(id) ? 'REFUNDED' : 'COMPLETED';
    };
    const statuses = new Map([...all].map((id) => [id, final.get(id)?.status]));
    expect(statuses).toEqual(new Map([...all].map((id) => [id, expectedStatus(id)])));
    const count = (status: FulfilmentStatus): number => normalIds.filter((id) => statuses.get(id) === status).length;
    expect({ confirmed: count('COMPLETED') + count('REFUNDED'), rejected: count('REJECTED'), timedOut: count('TIMED_OUT') }).toEqual({
      confirmed: predicted.confirmed + predicted.refunded,
      rejected: predicted.rejected,
      timedOut: predicted.timedOut,
    });
    expect(count('REFUNDED')).toBe(cancelAfterPayment.size + predicted.refunded);
    expect([...final.values()].every((s) => isTerminal(s.status) && s.closedAt !== null && s.deadlines.length === 0)).toBe(true);
    for (const id of ids.unknownCustomer) expect(final.get(id)?.reason).toMatch(/customer .* is not known/);
    for (const id of ids.soldOut) expect(final.get(id)?.reason).toMatch(/is sold out/);

    // Each follow-up message exists once: commands by commandId, payment messages by eventId.
    const commands = (await readRecords(kafka, TOPICS.orderCommands, codec)).filter((r) => all.has(r.key));
    const followUps = commands.filter((r) => r.headers['command-id'] === fulfilmentIds.message(r.key, r.type as 'ConfirmOrder'));
    expect([...countBy(followUps, (r) => r.headers['command-id'] ?? '').values()].every((n) => n === 1)).toBe(true);
    const followUp: Partial<Record<FulfilmentStatus, string>> = { COMPLETED: 'ConfirmOrder', REFUNDED: 'ConfirmOrder', TIMED_OUT: 'CancelOrder', REJECTED: 'RejectOrder' };
    expect(new Map(followUps.map((r) => [r.key, r.type]))).toEqual(new Map([...all].map((id) => [id, followUp[expectedStatus(id)]])));

    const paymentsOn = async (topic: string) => (await readRecords(kafka, topic, codec)).filter((r) => all.has((r.value?.metadata as { aggregateId: string } | undefined)?.aggregateId ?? ''));
    const payments = [...(await paymentsOn(TOPICS.paymentRequests)), ...(await paymentsOn(TOPICS.paymentResults))];
    // Each payment topic has one writer (requests: order fulfilment, results: the provider), which numbers each order's stream on it 1..n.
    const streams = new Map<string, number[]>();
    for (const r of payments) {
      const { aggregateId, version } = r.value?.metadata as { aggregateId: string; version: number };
      streams.set(`${r.topic} ${aggregateId}`, [...(streams.get(`${r.topic} ${aggregateId}`) ?? []), version]);
    }
    const misnumbered = [...streams].filter(([, versions]) => [...versions].sort((a, b) => a - b).some((v, i) => v !== i + 1)).map(([stream, versions]) => `${stream}: ${versions.join(', ')}`);
    expect(misnumbered).toEqual([]);
    const eventId = (r: StoredRecord): string => (r.value?.metadata as { eventId: string }).eventId;
    expect([...countBy(payments, eventId).values()].every((n) => n === 1)).toBe(true);
    const types = countBy(payments, (r) => r.type);
    expect(Object.fromEntries(types)).toEqual({
      PaymentRequested: ORDERS,
      PaymentAuthorized: predicted.authorized,
      PaymentDeclined: predicted.declined,
      ...(count('REFUNDED') > 0 ? { RefundRequested: count('REFUNDED'), RefundIssued: count('REFUNDED') } : {}),
    });

    // Deadlines pending when the process was killed fired after the restart, by the new process, once.
    const pendingAtKill = ids.normal.filter((o) => fate.get(o.orderId) === 'stall' && o.placedAt < killed.at && (final.get(o.orderId)?.startedAt ?? 0) + PAYMENT_TIMEOUT_MS > killed.at);
    expect(pendingAtKill.length).toBeGreaterThanOrEqual(1);
    for (const o of pendingAtKill) {
      const cancels = followUps.filter((r) => r.key === o.orderId);
      expect(cancels.map((r) => r.type)).toEqual(['CancelOrder']);
      expect(cancels[0]?.timestamp).toBeGreaterThan(killed.at);
    }

    // Choreography: loyalty points for each delivered order, once, without the fulfilment process knowing.
    const awards = (await readRecords(kafka, TOPICS.loyaltyEvents, codec)).filter((r) => all.has(r.value?.orderId as string));
    const delivered = normalIds.filter((id) => statuses.get(id) === 'COMPLETED');
    expect(awards.map((a) => eventId(a)).sort()).toEqual(delivered.map(loyaltyAwardId).sort());
    for (const a of awards) expect(a.value?.points).toBe(Math.floor(((a.value?.orderTotal as { amountMinor: number }).amountMinor) / 100));
  });

  it('reset to the earliest offsets, the fulfilment group replays everything and writes nothing new', async () => {
    expect(ids.normal.length).toBe(ORDERS); // the first test ran
    const all = new Set([...ids.normal.map((o) => o.orderId), ...ids.unknownCustomer, ...ids.soldOut]);
    expect(await fulfilment.stop()).toBe(0);
    const before = {
      commands: await readRecords(kafka, TOPICS.orderCommands, codec),
      payments: await readRecords(kafka, TOPICS.paymentRequests, codec),
      changelog: await readRecords(kafka, TOPICS.changelog, codec),
    };
    const inputs = await endOffsets(kafka, [TOPICS.orderEvents, TOPICS.paymentResults]);
    await withAdmin(kafka, async (admin) => {
      for (const topic of [TOPICS.orderEvents, TOPICS.paymentResults]) await admin.resetOffsets({ groupId: ORDER_FULFILMENT_GROUP, topic, earliest: true });
    });
    expect(await committedUpTo(kafka, ORDER_FULFILMENT_GROUP, inputs)).toBe(false);

    fulfilment = await startRole('process-manager:order-fulfilment', env);
    roles.push(fulfilment);
    await waitFor('the replay to reach the end of both input topics', async () => ((await committedUpTo(kafka, ORDER_FULFILMENT_GROUP, inputs)) ? true : undefined), 180_000, 1_000);

    const after = {
      commands: await readRecords(kafka, TOPICS.orderCommands, codec),
      payments: await readRecords(kafka, TOPICS.paymentRequests, codec),
      changelog: await readRecords(kafka, TOPICS.changelog, codec),
    };
    const fresh = (a: readonly StoredRecord[], b: readonly StoredRecord[]): StoredRecord[] => {
      const seen = new Set(b.map((r) => `${r.partition}@${r.offset}`));
      return a.filter((r) => !seen.has(`${r.partition}@${r.offset}`));
    };
    const aggregateOf = (r: StoredRecord): string => (r.value?.metadata as { aggregateId?: string } | undefined)?.aggregateId ?? r.key;
    // Nothing about this test's orders, in any output.
    expect(fresh(after.commands, before.commands).filter((r) => all.has(r.key))).toEqual([]);
    expect(fresh(after.payments, before.payments).filter((r) => all.has(aggregateOf(r)))).toEqual([]);
    expect(fresh(after.changelog, before.changelog).filter((r) => all.has(r.key))).toEqual([]);
    // And whatever else is on these shared topics (processes of other tests): nothing written twice.
    // A record with no metadata (another test's poison command that does not decode) is known by its position.
    const idOf = (r: StoredRecord): string => {
      const metadata = r.value?.metadata as { commandId?: string; eventId?: string } | undefined;
      return metadata?.eventId ?? metadata?.commandId ?? `${r.topic}:${r.partition}@${r.offset}`;
    };
    const knownIds = new Set([...before.commands, ...before.payments].map(idOf));
    expect([...fresh(after.commands, before.commands), ...fresh(after.payments, before.payments)].filter((r) => knownIds.has(idOf(r)))).toEqual([]);
  });
});
