/**
 * Several definitions per task (docs/stateful-runtime.md "Several definitions
 * per task"), against the real Kafka and registry: one runtime whose tasks run
 * order fulfilment (inputs: order events, payment results) and the payment
 * provider's simulator (input: payment requests) on topics of their own. The
 * two talk to each other through Kafka: fulfilment asks for a payment, the
 * simulator schedules its answer as a deadline and sends it when due,
 * fulfilment confirms the order.
 *
 * - every input is decided exactly once in each part (one payment request,
 *   one answer, one ConfirmOrder per order);
 * - each part's states are in its own changelog and on-disk store;
 * - each task p writes everything with one transactional producer: every
 *   record of partition p of both changelogs and both payment topics carries
 *   one producer id, a different one per partition;
 * - a restart on the same stores restores both by delta (nothing read) and
 *   goes on deciding each input once;
 * - a stale fold in one part (the simulator's) refuses the whole task, naming it.
 *
 * Run three times: the defaults (group positions, fetch coupled to the
 * rounds); positions in the changelogs with the decoupled fetch; and each
 * part's outputs sequenced (fulfilment's payment requests, the simulator's
 * answers: their offsets predicted and checked in the shared transactions).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logLevel } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { readToEnd } from '../../infra/kafka/read-to-end';
import { rootLogger } from '../../infra/logging';
import { readStoreMeta } from '../../infra/state/state-store';
import { storeDirOf } from '../../infra/stateful/load';
import { StatefulRuntime } from '../../infra/stateful/runtime';
import type { PositionsMode } from '../../infra/stateful/position-store';
import { testKafka, testRegistry, unique, withAdmin } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { countBy, endOffsets, orderEventsOf, placed, readRecords } from '../support/process-managers';
import { produceEnvelopes } from '../support/read-side';
import { createPartsTopics, partsTopicNames, partsTopics, twoParts, type PartsTopics } from '../support/stateful-parts';
import { crashChild, type CrashChild } from '../support/stateful-crash';

jest.setTimeout(240_000);

const kafka = testKafka('it-stateful-parts', logLevel.NOTHING);
const codec = new AvroCodec(testRegistry());
const logger = rootLogger.child({ test: 'stateful-parts' });
logger.level = 'silent';
const PARTITIONS = 6;

const typed = async (topic: string, type: string) => (await readRecords(kafka, topic, codec)).filter((r) => r.type === type);

/** Waits until every order of `orders` is confirmed, then checks each was asked, answered and confirmed exactly once. */
async function decidedOnce({ topics }: PartsTopics, orders: readonly string[]): Promise<void> {
  await waitFor('every order confirmed', async () => ((await typed(topics.orderCommands, 'ConfirmOrder')).length >= orders.length ? true : undefined), 120_000);
  for (const [topic, type] of [
    [topics.paymentRequests, 'PaymentRequested'],
    [topics.paymentResults, 'PaymentAuthorized'],
    [topics.orderCommands, 'ConfirmOrder'],
  ] as const) {
    const counts = countBy(await typed(topic, type), (r) => r.key.split('/')[0] as string);
    expect([...counts.keys()].sort()).toEqual([...orders].sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  }
}

describe.each([
  { mode: 'group' as PositionsMode, decoupledFetch: false, sequenced: false },
  { mode: 'changelog' as PositionsMode, decoupledFetch: true, sequenced: false },
  { mode: 'group' as PositionsMode, decoupledFetch: true, sequenced: true },
])('a runtime of two definitions per task (positions: $mode, decoupled fetch: $decoupledFetch, sequenced: $sequenced)', ({ mode, decoupledFetch, sequenced }) => {
  const run = unique('it-parts');
  const made = partsTopics(run);
  const { topics, simulatorChangelog, topicMap, groupId } = made;
  const stateDir = mkdtempSync(join(tmpdir(), 'it-parts-'));
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const running = new Set<StatefulRuntime<unknown, unknown>>();
  const orderEvents = orderEventsOf(made, PARTITIONS);

  async function start(options: { readonly simulatorFold?: number; readonly onRestoreProgress?: () => Promise<void> } = {}): Promise<StatefulRuntime<unknown, unknown>> {
    const runtime = new StatefulRuntime<unknown, unknown>({
      kafka,
      codec,
      logger,
      parts: twoParts(run, { mode, sequenced, ...(options.simulatorFold === undefined ? {} : { simulatorFold: options.simulatorFold }) }),
      topicMap,
      groupId,
      stateDir,
      decoupledFetch,
      offsetFlushMs: 200,
      retry: { attempts: 2, initialDelayMs: 20, maxDelayMs: 50 },
      ...(options.onRestoreProgress === undefined ? {} : { onRestoreProgress: options.onRestoreProgress }),
    });
    await runtime.start();
    running.add(runtime);
    return runtime;
  }

  async function stop(runtime: StatefulRuntime<unknown, unknown>): Promise<void> {
    await runtime.stop();
    running.delete(runtime);
  }

  beforeAll(async () => {
    await producer.connect();
    await createPartsTopics(kafka, made, PARTITIONS);
  });

  afterAll(async () => {
    for (const r of [...running]) await r.stop();
    await producer.disconnect();
    rmSync(stateDir, { recursive: true, force: true });
    await withAdmin(kafka, async (admin) => {
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.deleteTopics({ topics: partsTopicNames(made) }).catch(() => undefined);
    });
  });

  const FIRST = Array.from({ length: 24 }, (_, i) => `o-${i + 1}`);
  const LATER = Array.from({ length: 12 }, (_, i) => `o-later-${i + 1}`);

  it('decides every input exactly once in each part, each part in its own changelog and store, one producer per task', async () => {
    await produceEnvelopes(producer, codec, orderEvents, FIRST.map((o) => placed(o)));
    const runtime = await start();
    await decidedOnce(made, FIRST);
    await waitFor('every state committed', async () => {
      const s = runtime.stats();
      return s.parts?.every((p) => p.instances === FIRST.length) === true && s.parts[1]?.pendingDeadlines === 0 ? true : undefined;
    });
    const stats = runtime.stats();
    expect(stats.parts?.map((p) => p.name)).toEqual(['order-fulfilment', 'payment-simulator']);
    expect(stats.instances).toBe(2 * FIRST.length);
    expect(stats.parts?.[0]?.instancesByState).toEqual({ CONFIRMED: FIRST.length });
    expect(stats.partitions).toEqual([0, 1, 2, 3, 4, 5]);
    expect(stats.messagesEmittedByType).toMatchObject({ PaymentRequested: FIRST.length, PaymentAuthorized: FIRST.length, ConfirmOrder: FIRST.length });
    // Sequenced: both parts' records predicted in the shared transactions, no guess refuted (only task p writes partition p of either).
    expect(stats.offsetGuessesMissed).toBe(0);
    await stop(runtime);

    // Each part's states in its own changelog (and, with positions there, its own checkpoints), and its own store.
    const states = (records: Awaited<ReturnType<typeof readRecords>>) => records.filter((r) => !r.key.startsWith('@checkpoint/'));
    const fulfilmentLog = await readRecords(kafka, topics.changelog, codec);
    const simulatorLog = await readRecords(kafka, simulatorChangelog, codec);
    expect(new Set(states(fulfilmentLog).map((r) => r.type))).toEqual(new Set(['OrderFulfilmentState']));
    expect(new Set(states(simulatorLog).map((r) => r.type))).toEqual(new Set(['PaymentSimulatorState']));
    expect(new Set(states(fulfilmentLog).map((r) => r.key))).toEqual(new Set(FIRST));
    expect(new Set(states(simulatorLog).map((r) => r.key))).toEqual(new Set(FIRST));
    const checkpoints = (records: typeof fulfilmentLog) => new Set(records.filter((r) => r.key.startsWith('@checkpoint/')).map((r) => r.key));
    if (mode === 'changelog') {
      expect(checkpoints(fulfilmentLog)).toEqual(new Set([`@checkpoint/${groupId}/${topics.orderEvents}`, `@checkpoint/${groupId}/${topics.paymentResults}`]));
      expect(checkpoints(simulatorLog)).toEqual(new Set([`@checkpoint/${groupId}/${topics.paymentRequests}`]));
    } else expect(checkpoints(fulfilmentLog).size + checkpoints(simulatorLog).size).toBe(0);
    // Each store reflects its changelog up to the last transaction's records (the last offset is that transaction's commit marker).
    const ends = await endOffsets(kafka, [topics.changelog, simulatorChangelog]);
    for (let p = 0; p < PARTITIONS; p += 1) {
      for (const changelog of [topics.changelog, simulatorChangelog]) {
        expect(readStoreMeta(storeDirOf(stateDir, changelog, p))).toMatchObject({ topic: changelog, partition: p, foldVersion: 1, offset: (ends.get(changelog)?.get(p) ?? 0) - 1 });
      }
    }

    // One transactional producer per task: partition p of every topic the task writes carries one producer id.
    const producers = new Map<number, Set<string>>();
    for (const topic of [topics.changelog, simulatorChangelog, topics.paymentRequests, topics.paymentResults, topics.orderCommands]) {
      await readToEnd(kafka, [{ topic }], ({ partition, message }) => {
        const id = (message as { batchContext?: { producerId?: unknown } }).batchContext?.producerId;
        const set = producers.get(partition) ?? new Set<string>();
        set.add(String(id));
        producers.set(partition, set);
      });
    }
    expect([...producers.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    for (const ids of producers.values()) expect(ids.size).toBe(1);
    expect(new Set([...producers.values()].map((ids) => [...ids][0])).size).toBe(PARTITIONS);
  });

  it('restarted on the same stores, restores both parts by delta and decides each new input once', async () => {
    let progress = 0;
    const runtime = await start({ onRestoreProgress: async () => void (progress += 1) });
    await waitFor('the restarted runtime to be ready', async () => (runtime.notReady() === undefined ? true : undefined));
    // The stores were whole: nothing of either changelog was read again.
    expect(progress).toBe(0);
    expect(runtime.stats()).toMatchObject({ restores: PARTITIONS, instances: 2 * FIRST.length });
    await produceEnvelopes(producer, codec, orderEvents, LATER.map((o) => placed(o)));
    await decidedOnce(made, [...FIRST, ...LATER]);
    await waitFor('the later states committed', async () => (runtime.stats().parts?.every((p) => p.instances === FIRST.length + LATER.length) === true ? true : undefined));
    await stop(runtime);
  });

  it('a stale fold in one part refuses the whole task, naming that part, and writes nothing', async () => {
    const outputs = await endOffsets(kafka, [topics.changelog, simulatorChangelog, topics.paymentRequests, topics.paymentResults, topics.orderCommands]);
    await produceEnvelopes(producer, codec, orderEvents, [placed('o-waiting')]);
    const changed = await start({ simulatorFold: 2 });
    const why = await waitFor('the runtime to refuse', async () => changed.broken());
    expect(why).toMatch(/^payment-simulator: the store of .*payment-simulator\.changelog\[\d\] was made by fold version 1, this build's fold is version 2/);
    expect(changed.stats()).toMatchObject({ partitions: [], inputsDecided: 0, transactions: 0 });
    await stop(changed);
    expect(await endOffsets(kafka, [topics.changelog, simulatorChangelog, topics.paymentRequests, topics.paymentResults, topics.orderCommands])).toEqual(outputs);
    // The fulfilment stores, whole and of the current fold, are left as they were.
    expect(readStoreMeta(storeDirOf(stateDir, topics.changelog, 0))).toMatchObject({ foldVersion: 1 });
  });
});

describe('two definitions per task, killed -9 between a commit and its store writes', () => {
  const run = unique('it-parts-crash');
  const made = partsTopics(run);
  const { topics, simulatorChangelog } = made;
  const stateDir = mkdtempSync(join(tmpdir(), 'it-parts-crash-'));
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  let child: CrashChild | undefined;
  let runtime: StatefulRuntime<unknown, unknown> | undefined;

  beforeAll(async () => {
    await producer.connect();
    await createPartsTopics(kafka, made, PARTITIONS);
  });

  afterAll(async () => {
    await child?.kill();
    await runtime?.stop();
    await producer.disconnect();
    rmSync(stateDir, { recursive: true, force: true });
    await withAdmin(kafka, async (admin) => {
      await admin.deleteGroups([made.groupId]).catch(() => undefined);
      await admin.deleteTopics({ topics: partsTopicNames(made) }).catch(() => undefined);
    });
  });

  it('the next owner restores both parts\' deltas: every input decided once in each part, no state written twice', async () => {
    const orders = Array.from({ length: 60 }, (_, i) => `c-${i + 1}`);
    await produceEnvelopes(producer, codec, orderEventsOf(made, PARTITIONS), orders.map((o) => placed(o)));
    // The child hangs after the first round that wrote both changelogs (each of its single-part rounds lingers, answers up to 5 s late interleave the two parts).
    const doomed = crashChild(['hang-after-commit', run, stateDir, '5000'], { PARTS: '1' });
    child = doomed;
    const line = await waitFor('the child to commit a round of both parts', async () => doomed.lines.find((l) => l.startsWith('committed ')), 90_000);
    await doomed.kill();
    const partition = Number(line.split(' ')[1]);
    // Both stores of that partition are behind their changelogs: the round is in the log, in neither store.
    const ends = await endOffsets(kafka, [topics.changelog, simulatorChangelog]);
    for (const changelog of [topics.changelog, simulatorChangelog]) {
      expect(readStoreMeta(storeDirOf(stateDir, changelog, partition))?.offset ?? 0).toBeLessThan((ends.get(changelog)?.get(partition) ?? 0) - 1);
    }

    runtime = new StatefulRuntime<unknown, unknown>({ kafka, codec, logger, parts: twoParts(run, { answerMaxMs: 5000 }), topicMap: made.topicMap, groupId: made.groupId, stateDir, offsetFlushMs: 200 });
    await runtime.start();
    await decidedOnce(made, orders);
    await waitFor('every state committed', async () => (runtime?.stats().parts?.every((p) => p.instances === orders.length) === true && runtime.stats().parts?.[1]?.pendingDeadlines === 0 ? true : undefined));
    await runtime.stop();
    runtime = undefined;
    // No state written twice in either part: each process's changelog records are all different states.
    for (const changelog of [topics.changelog, simulatorChangelog]) {
      const byKey = new Map<string, string[]>();
      for (const r of await readRecords(kafka, changelog, codec)) byKey.set(r.key, [...(byKey.get(r.key) ?? []), JSON.stringify(r.value)]);
      expect(byKey.size).toBe(orders.length);
      for (const values of byKey.values()) expect(new Set(values).size).toBe(values.length);
    }
    // And the stores caught up with their changelogs (the delta restored, the later rounds written).
    const after = await endOffsets(kafka, [topics.changelog, simulatorChangelog]);
    for (const changelog of [topics.changelog, simulatorChangelog]) {
      expect(readStoreMeta(storeDirOf(stateDir, changelog, partition))?.offset).toBeGreaterThanOrEqual((after.get(changelog)?.get(partition) ?? 0) - 1);
    }
  });
});
