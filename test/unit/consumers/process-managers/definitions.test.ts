// The three definitions the process-manager runtime runs, without Kafka: what
// becomes an input, what each decision emits (topic, key, id, headers, a record
// its schema accepts), and that replays change nothing.
import { loyaltyProcess } from '../../../../consumers/loyalty/loyalty.process';
import { loyaltyAwardId } from '../../../../consumers/loyalty/loyalty.policy';
import { answerPayment, DEFAULT_SIMULATOR_CONFIG, paymentFate } from '../../../../consumers/payment-simulator/payment-simulator';
import { decideProvider, initialSimulatorState, paymentSimulatorProcess, type SimulatorInput } from '../../../../consumers/payment-simulator/payment-simulator.process';
import { orderFulfilmentProcess } from '../../../../consumers/process-managers/order-fulfilment/order-fulfilment.process';
import { fulfilmentIds, type PlacementFacts } from '../../../../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import type { PlacementFactsSource } from '../../../../consumers/process-managers/order-fulfilment/placement-facts';
import type { Outgoing, ProcessDefinition } from '../../../../consumers/process-managers/runtime/definition';
import type { DecodedRecord } from '../../../../infra/consuming/batch-sink';
import type { EventMetadata, OrderFulfilmentState, PaymentSimulatorState } from '../../../../schemas/generated/types';
import { loadSchemas } from '../../../../schemas/loader';
import { partitionFor } from '../../../../schemas/partitioning';
import { topicCatalog } from '../../../../schemas/topics';

const T0 = 1_767_225_600_000;
const schemas = loadSchemas();
const catalog = topicCatalog();
const eur = (amountMinor: number) => ({ amountMinor, currency: 'EUR' });
const address = { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' };

const meta = (orderId: string, version: number, at = T0, eventId = `e-${orderId}-${version}`): EventMetadata => ({
  eventId,
  aggregateId: orderId,
  version,
  occurredAt: at,
  commandId: `c-${version}`,
  correlationId: `k-${orderId}`,
  causationId: `c-${version}`,
  actor: null,
});

let offset = 0;
function record(topic: string, type: string, data: object, metadata: EventMetadata): DecodedRecord {
  offset += 1;
  const namespace = topic === 'restaurant.order.events' ? 'restaurant.order' : 'restaurant.payment';
  return { topic, partition: 0, offset, key: null, rawValue: null, headers: undefined, type, fullName: `${namespace}.${type}`, value: { ...data, metadata } };
}
const placedData = (customerId: string, menuItemId: string, quantity = 2) => ({
  customerId,
  lines: [{ menuItemId, menuItemName: 'Margherita', quantity, unitPrice: eur(950) }],
  deliveryAddress: address,
  total: eur(950 * quantity),
});

/** Every emitted message is a record its schema accepts, on a catalog topic, keyed as that topic's writers key. */
function expectWellFormed(messages: readonly Outgoing[]): void {
  for (const m of messages) {
    expect(schemas.get(m.recordName).type.isValid(m.value)).toBe(true);
    const topic = catalog.topic(m.topic);
    expect(topic.subjects.map((s) => s.recordName)).toContain(m.recordName);
    if (topic.key === 'aggregateId/version') expect(m.key).toMatch(new RegExp(`^${m.partitionKey}/[1-9][0-9]*$`));
    else expect(m.key).toBe(m.partitionKey);
    expect(Object.values(m.headers)).toContain(m.id);
  }
}

/** Feeds decisions in order from a fresh state, as the runtime does for one process. */
function feed<S, I>(definition: ProcessDefinition<S, I>, id: string, inputs: readonly I[], from = definition.initialState(id)): { state: S; emitted: Outgoing[]; changed: number } {
  let state = from;
  const emitted: Outgoing[] = [];
  let changed = 0;
  for (const input of inputs) {
    const d = definition.decide(input, state);
    if (d.changed) changed += 1;
    else expect(d.state).toBe(state);
    emitted.push(...d.emit);
    state = d.state;
  }
  return { state, emitted, changed };
}

class RecordingFacts implements PlacementFactsSource {
  readonly asked: string[] = [];
  constructor(private readonly facts: PlacementFacts) {}
  async factsFor(orders: ReadonlyArray<{ customerId: string }>): Promise<PlacementFacts[]> {
    this.asked.push(...orders.map((o) => o.customerId));
    return orders.map(() => this.facts);
  }
}

describe('order fulfilment definition', () => {
  const facts = new RecordingFacts({ customerExists: true, menuItems: { 'm-1': 'AVAILABLE' } });
  const fulfilment = orderFulfilmentProcess({ facts, config: { paymentTimeoutMs: 5_000, maxPaymentRequests: 1, refundTimeoutMs: 10_000, maxRefundRequests: 2 } });

  it('reads order events and provider answers, and nothing it emits itself', () => {
    expect([...fulfilment.handles].sort()).toEqual(['OrderCancelled', 'OrderConfirmed', 'OrderDelivered', 'OrderPlaced', 'OrderRejected', 'PaymentAuthorized', 'PaymentDeclined', 'RefundIssued']);
    expect(fulfilment.inputs).toEqual(['restaurant.order.events', 'restaurant.payment.results']);
  });

  it('attaches facts to OrderPlaced only for a process that has not started, and requests the payment', async () => {
    const placed = record('restaurant.order.events', 'OrderPlaced', placedData('c-1', 'm-1'), meta('o-1', 4));
    const [input] = await fulfilment.inputsFor([placed], () => undefined);
    expect(facts.asked).toEqual(['c-1']);
    if (input === null || input === undefined) throw new Error('OrderPlaced is an input');
    const { state, emitted } = feed(fulfilment, 'o-1', [input]);
    expect(state.status).toBe('AWAITING_PAYMENT');
    expect(emitted.map((e) => [e.topic, e.type, e.key])).toEqual([['restaurant.payment.requests', 'PaymentRequested', 'o-1/1']]);
    expect(emitted[0]?.id).toBe(fulfilmentIds.message('o-1', 'PaymentRequested'));
    expectWellFormed(emitted);
    expect(fulfilment.deadlines(state)).toEqual([{ name: 'PAYMENT', dueAt: T0 + 5_000, attempt: 1 }]);

    // The same OrderPlaced again (a replay): no lookup, no change.
    await fulfilment.inputsFor([placed], (id) => (id === 'o-1' ? state : undefined));
    expect(facts.asked).toEqual(['c-1']);
  });

  it('confirms on authorization, times out through its deadline, and ends every path in one terminal status', async () => {
    const answer = (orderId: string) => record('restaurant.payment.results', 'PaymentAuthorized', { orderId, paymentId: fulfilmentIds.payment(orderId), amount: eur(1900) }, meta(orderId, 1, T0 + 100, `auth-${orderId}`));
    const inputs = async (records: DecodedRecord[]) => (await fulfilment.inputsFor(records, () => undefined)).filter((i) => i !== null);
    const placedA = record('restaurant.order.events', 'OrderPlaced', placedData('c-1', 'm-1'), meta('o-a', 4));
    const a = feed(fulfilment, 'o-a', await inputs([placedA, answer('o-a')]));
    expect(a.state.status).toBe('CONFIRMED');
    expect(a.emitted.map((e) => [e.topic, e.type, e.key])).toEqual([
      ['restaurant.payment.requests', 'PaymentRequested', 'o-a/1'],
      ['restaurant.order.commands', 'ConfirmOrder', 'o-a'],
    ]);
    expect(a.emitted[1]?.headers).toMatchObject({ 'command-type': 'ConfirmOrder', 'command-id': fulfilmentIds.message('o-a', 'ConfirmOrder'), 'correlation-id': 'k-o-a' });
    expectWellFormed(a.emitted);

    const placedB = record('restaurant.order.events', 'OrderPlaced', placedData('c-1', 'm-1'), meta('o-b', 4));
    const started = feed(fulfilment, 'o-b', await inputs([placedB]));
    const [deadline] = fulfilment.deadlines(started.state);
    if (deadline === undefined) throw new Error('a payment deadline is pending');
    const timedOut = feed(fulfilment, 'o-b', [fulfilment.deadlineInput('o-b', deadline)], started.state);
    expect(timedOut.state.status).toBe('TIMED_OUT');
    expect(timedOut.emitted.map((e) => e.type)).toEqual(['CancelOrder']);
    expect(fulfilment.deadlines(timedOut.state)).toEqual([]);
    // Fired again (a restart, a late timer): nothing.
    expect(fulfilment.decide(fulfilment.deadlineInput('o-b', deadline), timedOut.state).changed).toBe(false);
    expect(fulfilment.counters?.(timedOut.state)).toEqual({ failures: 1, retries: 0 });
  });

  it('is not fed records it does not handle', async () => {
    const opened = record('restaurant.order.events', 'OrderOpened', { customerId: 'c-1' }, meta('o-c', 1));
    expect(await fulfilment.inputsFor([opened], () => undefined)).toEqual([null]);
  });

  it('refuses a changelog record written by a newer build', () => {
    const state: OrderFulfilmentState = { ...fulfilment.initialState('o-1'), status: 'UNKNOWN' };
    expect(() => fulfilment.fromStateRecord(state)).toThrow(/newer build/);
  });
});

describe('payment simulator definition', () => {
  const seed = 'unit-seed';
  const config = { ...DEFAULT_SIMULATOR_CONFIG, declineShare: 0.3, stallShare: 0.2 };
  const simulator = paymentSimulatorProcess({ seed, config });
  const request = (orderId: string): SimulatorInput => ({
    type: 'PaymentRequested',
    data: { orderId, paymentId: fulfilmentIds.payment(orderId), customerId: 'c-1', amount: eur(1900) },
    metadata: meta(orderId, 1, T0, `req-${orderId}`),
  });
  const orders = Array.from({ length: 60 }, (_, i) => `o-${i}`);

  it('schedules the seeded answer as a deadline due at its occurredAt, and produces it then, once', () => {
    let answered = 0;
    let stalled = 0;
    for (const orderId of orders) {
      const fate = paymentFate(fulfilmentIds.payment(orderId), seed, config);
      const scheduled = feed(simulator, orderId, [request(orderId)]);
      expect(scheduled.emitted).toEqual([]);
      const deadlines = simulator.deadlines(scheduled.state);
      if (fate.outcome === 'stall') {
        stalled += 1;
        expect(deadlines).toEqual([]);
        expect(scheduled.state.stalled).toBe(1);
        continue;
      }
      const expected = answerPayment(request(orderId) as Extract<SimulatorInput, { type: 'PaymentRequested' }>, seed, config);
      expect(deadlines).toEqual([{ name: expected?.metadata.eventId, dueAt: T0 + fate.delayMs }]);
      const [deadline] = deadlines;
      if (deadline === undefined) throw new Error('an answer is pending');
      const sent = feed(simulator, orderId, [simulator.deadlineInput(orderId, deadline), simulator.deadlineInput(orderId, deadline), request(orderId)], scheduled.state);
      expect(sent.changed).toBe(1);
      // The first message of the order's stream on restaurant.payment.results, which the simulator alone writes.
      expect(sent.emitted.map((e) => [e.topic, e.type, e.key, e.id])).toEqual([['restaurant.payment.results', expected?.message.type, `${orderId}/1`, expected?.metadata.eventId]]);
      expect(sent.emitted[0]?.value).toEqual({ ...expected?.message.data, metadata: { ...expected?.metadata, version: 1 } });
      expectWellFormed(sent.emitted);
      expect(simulator.deadlines(sent.state)).toEqual([]);
      answered += 1;
    }
    expect(answered).toBeGreaterThan(0);
    expect(stalled).toBeGreaterThan(0);
  });

  it('answers a refund after its delay, next in the order\'s results stream, and keeps a state its schema accepts', () => {
    const refund: SimulatorInput = {
      type: 'RefundRequested',
      data: { orderId: 'o-r', paymentId: 'p-r', refundId: 'r-r', amount: eur(500), reason: 'late cancellation' },
      metadata: meta('o-r', 2, T0, 'refund-req'),
    };
    // The order's payment was answered before (one message in its results stream): the refund is the second.
    const d = decideProvider(refund, { ...initialSimulatorState('o-r'), answered: 1 }, seed, config);
    expect(schemas.get('restaurant.simulator.PaymentSimulatorState').type.isValid(d.state)).toBe(true);
    const [deadline] = simulator.deadlines(d.state as PaymentSimulatorState);
    if (deadline === undefined) throw new Error('a refund answer is pending');
    const issued = decideProvider(simulator.deadlineInput('o-r', deadline), d.state, seed, config);
    expect(issued.emit.map((e) => [e.topic, e.type, e.key])).toEqual([['restaurant.payment.results', 'RefundIssued', 'o-r/2']]);
    expect(issued.state.answered).toBe(2);
    expectWellFormed(issued.emit);
  });
});

describe('loyalty definition (choreography)', () => {
  const loyalty = loyaltyProcess();
  const orderEvents = (orderId: string) => [
    record('restaurant.order.events', 'OrderPlaced', placedData('c-9', 'm-1', 3), meta(orderId, 4)),
    record('restaurant.order.events', 'OrderDelivered', {}, meta(orderId, 9, T0 + 3_600_000)),
  ];

  it('awards a delivered order once, as PointsAwarded keyed <orderId>/1 under the award id', async () => {
    const inputs = (await loyalty.inputsFor(orderEvents('o-l'), () => undefined)).filter((i) => i !== null);
    const { state, emitted } = feed(loyalty, 'o-l', inputs);
    expect(state.awarded).toBe(true);
    expect(emitted.map((e) => [e.topic, e.type, e.key, e.id])).toEqual([['restaurant.loyalty.events', 'PointsAwarded', 'o-l/1', loyaltyAwardId('o-l')]]);
    expect(emitted[0]?.value).toMatchObject({ customerId: 'c-9', orderId: 'o-l', points: 28, orderTotal: eur(2850) });
    expectWellFormed(emitted);
    expect(partitionFor('o-l', 6)).toBe(partitionFor(emitted[0]?.partitionKey ?? '', 6));
    expect(schemas.get(loyalty.stateRecord).type.isValid(state)).toBe(true);

    const again = feed(loyalty, 'o-l', inputs, state);
    expect(again.emitted).toEqual([]);
    expect(again.changed).toBe(0);
  });
});
