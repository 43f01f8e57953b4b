/**
 * Parking with several definitions per task (docs/stateful-runtime.md "Several
 * definitions per task", "Parking"), against the real Kafka and registry: order
 * fulfilment and the payment simulator as two parts of one runtime, each with
 * its own parked topic. Deciding one order's payment answer throws in the
 * fulfilment part: that order is parked there (on fulfilment's parked topic,
 * counted in its part's stats), while every other order, and the simulator,
 * go on. With the bug fixed, an operator's redrive (written to fulfilment's
 * parked topic, so routed to that part) decides the parked answer once, in one
 * transaction with its recorded action, and the order is confirmed once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logLevel } from 'kafkajs';
import { parkingTargetOf } from '../../consumers/process-managers/redrive/redrive';
import { AvroCodec } from '../../infra/kafka/codec';
import { rootLogger } from '../../infra/logging';
import { requestAndWait } from '../../infra/stateful/parked-tools';
import { StatefulRuntime } from '../../infra/stateful/runtime';
import { waitFor } from '../../infra/wait-for';
import { testKafka, testRegistry, unique, withAdmin } from '../support/kafka';
import { countBy, orderEventsOf, placed, readRecords } from '../support/process-managers';
import { produceEnvelopes } from '../support/read-side';
import { fulfilment } from '../support/stateful-crash';
import { createPartsTopics, partsTopicNames, partsTopics, twoParts } from '../support/stateful-parts';

jest.setTimeout(180_000);

const kafka = testKafka('it-stateful-parts-parking', logLevel.NOTHING);
const codec = new AvroCodec(testRegistry());
const logger = rootLogger.child({ test: 'stateful-parts-parking' });
logger.level = 'silent';
const PARTITIONS = 6;
const run = unique('it-parts-park');
const made = partsTopics(run, { parking: true });
const { topics } = made;
const stateDir = mkdtempSync(join(tmpdir(), 'it-parts-park-'));
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
let runtime: StatefulRuntime<unknown, unknown> | undefined;

const POISON = 'o-poison';
const OTHERS = Array.from({ length: 11 }, (_, i) => `o-${i + 1}`);
/** The bug: deciding the payment answer of POISON throws while on. */
const fault = { on: true };
const base = fulfilment(600_000);
const buggy: typeof base = {
  ...base,
  decide: (input, state) => {
    if (fault.on && input.type === 'PaymentAuthorized' && state.orderId === POISON) throw new Error('a bug in deciding PaymentAuthorized');
    return base.decide(input, state);
  },
};

beforeAll(async () => {
  await producer.connect();
  await createPartsTopics(kafka, made, PARTITIONS);
});

afterAll(async () => {
  await runtime?.stop();
  await producer.disconnect();
  rmSync(stateDir, { recursive: true, force: true });
  await withAdmin(kafka, async (admin) => {
    await admin.deleteGroups([made.groupId]).catch(() => undefined);
    await admin.deleteTopics({ topics: partsTopicNames(made) }).catch(() => undefined);
  });
});

const confirmations = async (): Promise<Map<string, number>> => countBy((await readRecords(kafka, topics.orderCommands, codec)).filter((r) => r.type === 'ConfirmOrder'), (r) => r.key);

describe('parking with two definitions per task', () => {
  it('parks in the part whose decision fails, on its own parked topic, and a redrive there decides the input once', async () => {
    runtime = new StatefulRuntime<unknown, unknown>({
      kafka,
      codec,
      logger,
      parts: twoParts(run, { parking: true, fulfilment: buggy }),
      topicMap: made.topicMap,
      groupId: made.groupId,
      stateDir,
      offsetFlushMs: 200,
      retry: { attempts: 2, initialDelayMs: 20, maxDelayMs: 50 },
    });
    await runtime.start();
    await produceEnvelopes(producer, codec, orderEventsOf(made, PARTITIONS), [POISON, ...OTHERS].map((o) => placed(o)));

    // Every other order is confirmed; the poisoned one is parked in the fulfilment part, at its answer.
    await waitFor('the other orders confirmed', async () => {
      const confirmed = await confirmations();
      return OTHERS.every((o) => confirmed.get(o) === 1) ? true : undefined;
    });
    const parked = await waitFor('the poisoned order parked', async () => runtime?.parked().find((p) => p.processId === POISON));
    expect(parked).toMatchObject({ processId: POISON, headType: 'PaymentAuthorized', inputs: 1 });
    expect(parked.error).toMatch(/a bug in deciding PaymentAuthorized/);
    const stats = runtime.stats();
    expect(stats.parts?.map((p) => [p.name, p.parkedProcesses])).toEqual([
      ['order-fulfilment', 1],
      ['payment-simulator', 0],
    ]);
    expect(stats.parkedProcesses).toBe(1);
    // On fulfilment's parked topic, not the simulator's.
    expect((await readRecords(kafka, topics.parked, codec)).filter((r) => r.type === 'ParkedInput').map((r) => r.key.split('@')[0])).toEqual([POISON]);
    expect(await readRecords(kafka, made.simulatorParked)).toEqual([]);
    expect((await confirmations()).get(POISON)).toBeUndefined();

    // The bug fixed, the redrive decides the parked answer once.
    fault.on = false;
    const target = parkingTargetOf('order-fulfilment', { topicMap: made.topicMap, groupId: made.groupId });
    const ctx = { kafka, codec, producer };
    const action = await requestAndWait(ctx, target, { action: 'redrive', processId: POISON, position: null }, { actor: 'test', why: 'the bug is fixed' });
    expect(action).toMatchObject({ outcome: 'redriven', applied: 1, readModel: 'order-fulfilment' });
    await waitFor('the redriven order confirmed', async () => ((await confirmations()).get(POISON) === 1 ? true : undefined));
    expect(runtime.parked()).toEqual([]);
    // A second redrive finds nothing parked; every order confirmed exactly once.
    const again = await requestAndWait(ctx, target, { action: 'redrive', processId: POISON, position: null }, { actor: 'test', why: 'again' });
    expect(again).toMatchObject({ outcome: 'not-parked', applied: 0 });
    const confirmed = await confirmations();
    expect([...confirmed.keys()].sort()).toEqual([POISON, ...OTHERS].sort());
    expect([...confirmed.values()].every((n) => n === 1)).toBe(true);
    expect(runtime.stats().parts?.map((p) => p.parkedProcesses)).toEqual([0, 0]);
  });
});
