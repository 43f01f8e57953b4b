/**
 * Fold versions on the stateful runtime, against the real Kafka and registry
 * (docs/state-stores.md "Fold versions"): order fulfilment on topics of its own
 * decides with fold version 1 and stamps every changelog record with it; then
 * the fold is changed (payments time out after 1 s, not 10 minutes: the old
 * states' deadlines mean something else) and declared as fold version 2. Whether the new build finds its
 * on-disk store or has to rebuild it from the changelog, it refuses to decide
 * on the old states, says why, and writes nothing; the old build on the same
 * store carries on where it stopped. Then the states are migrated
 * (`migrateStates`, what `npm run states:migrate` runs): refused while an
 * instance runs or without a migration, and with one the new build, on a new
 * changelog epoch, decides on the migrated states.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logLevel } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { rootLogger } from '../../infra/logging';
import { FOLD_VERSION_HEADER } from '../../infra/state/changelog-restore';
import { readStoreMeta } from '../../infra/state/state-store';
import { storeDirOf } from '../../infra/stateful/load';
import { migrateStates, MigrationRefused } from '../../infra/stateful/migrate-states';
import { orderFulfilmentProcess } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.process';
import type { FulfilmentInput } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import type { PlacementFactsSource } from '../../consumers/process-managers/order-fulfilment/placement-facts';
import type { ProcessDefinition } from '../../consumers/process-managers/runtime/definition';
import { ProcessManagerRuntime } from '../../consumers/process-managers/runtime/runtime';
import type { OrderFulfilmentState } from '../../schemas/generated/types';
import { partitionFor } from '../../schemas/partitioning';
import { topicCatalog } from '../../schemas/topics';
import { testKafka, testRegistry, unique } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { createFulfilmentTopics, deleteFulfilmentRun, endOffsets, fulfilmentTopics, latestByKey, orderEventsOf, placed, readRecords } from '../support/process-managers';
import { produceEnvelopes } from '../support/read-side';

jest.setTimeout(180_000);

const kafka = testKafka('it-fold-version', logLevel.NOTHING);
const codec = new AvroCodec(testRegistry());
const logger = rootLogger.child({ test: 'stateful-fold-version' });
logger.level = 'silent';
const PARTITIONS = 6;
const run = unique('it-fold');
const made = fulfilmentTopics(run);
const { topics, topicMap, groupId } = made;
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const stateDir = mkdtempSync(join(tmpdir(), 'it-fold-'));
const running = new Set<ProcessManagerRuntime<OrderFulfilmentState, FulfilmentInput>>();

const facts: PlacementFactsSource = { factsFor: async (orders) => orders.map(() => ({ customerExists: true, menuItems: { 'm-1': 'AVAILABLE' } })) };

/** Version 2 is a changed fold: payments time out after 1 s instead of 10 minutes, so its states mean something else. */
function definition(foldVersion: 1 | 2, migrates = false): ProcessDefinition<OrderFulfilmentState, FulfilmentInput> {
  const paymentTimeoutMs = foldVersion === 1 ? 600_000 : 1_000;
  const made = orderFulfilmentProcess({ facts, config: { paymentTimeoutMs, maxPaymentRequests: 1, refundTimeoutMs: 600_000, maxRefundRequests: 1 } });
  return { ...made, foldVersion, ...(migrates ? { migrate: migrateToShortTimeouts(made.fromStateRecord.bind(made)) } : {}) };
}

/** Version 1 to 2: a pending deadline is re-based on the new 1 s timeout, counted from the migration. */
function migrateToShortTimeouts(fromStateRecord: (record: unknown) => OrderFulfilmentState): (record: unknown, fromVersion: number) => OrderFulfilmentState {
  const migratedAt = Date.now();
  return (record, fromVersion) => {
    if (fromVersion !== 1) throw new Error(`no migration from fold version ${fromVersion}`);
    const state = fromStateRecord(record);
    return { ...state, deadlines: state.deadlines.map((d) => ({ ...d, dueAt: Math.min(d.dueAt, migratedAt + 1_000) })) };
  };
}

const target = { groupId, changelog: topicCatalog().changelog('order-fulfilment').name, physical: topics.changelog };

async function start(foldVersion: 1 | 2, dir: string, epoch = '1', migrates = false): Promise<ProcessManagerRuntime<OrderFulfilmentState, FulfilmentInput>> {
  const runtime = new ProcessManagerRuntime({ kafka, codec, logger, definition: definition(foldVersion, migrates), topicMap, groupId, stateDir: dir, changelogEpoch: epoch, offsetFlushMs: 200, retry: { attempts: 2, initialDelayMs: 20, maxDelayMs: 50 } });
  await runtime.start();
  running.add(runtime);
  return runtime;
}

async function stop(runtime: ProcessManagerRuntime<OrderFulfilmentState, FulfilmentInput>): Promise<void> {
  await runtime.stop();
  running.delete(runtime);
}

const orderEvents = orderEventsOf(made, PARTITIONS);
const requests = async () => (await readRecords(kafka, topics.paymentRequests, codec)).filter((r) => r.type === 'PaymentRequested');

beforeAll(async () => {
  await producer.connect();
  await createFulfilmentTopics(kafka, made, PARTITIONS);
});

afterAll(async () => {
  for (const r of [...running]) await r.stop();
  await producer.disconnect();
  rmSync(stateDir, { recursive: true, force: true });
  await deleteFulfilmentRun(kafka, made, groupId);
});

const FIRST = Array.from({ length: 8 }, (_, i) => `o-${i + 1}`);

describe('fold versions on the stateful runtime', () => {
  it('stamps every changelog record and stored state with the fold version that made it', async () => {
    await produceEnvelopes(producer, codec, orderEvents, FIRST.map((o) => placed(o)));
    const runtime = await start(1, stateDir);
    await waitFor('a payment request per order', async () => ((await requests()).length >= FIRST.length ? true : undefined));
    await waitFor('every state in the changelog', async () => ((await readRecords(kafka, topics.changelog)).length >= FIRST.length ? true : undefined));
    await stop(runtime);
    const changelog = await readRecords(kafka, topics.changelog);
    expect(changelog.map((r) => r.headers[FOLD_VERSION_HEADER])).toEqual(FIRST.map(() => '1'));
    const partition = partitionFor(FIRST[0] as string, PARTITIONS);
    expect(readStoreMeta(storeDirOf(stateDir, topics.changelog, partition))).toMatchObject({ foldVersion: 1, topic: topics.changelog, partition });
  });

  it.each([
    ['its store on disk', () => stateDir],
    ['no store (rebuilt from the changelog)', () => mkdtempSync(join(tmpdir(), 'it-fold-empty-'))],
  ])('a build with a changed fold refuses to decide on the old states, finding %s', async (_what, dirOf) => {
    const dir = dirOf();
    const outputs = await endOffsets(kafka, [topics.orderCommands, topics.paymentRequests, topics.changelog]);
    await produceEnvelopes(producer, codec, orderEvents, [placed(`o-new-${dir.length}-${Date.now()}`)]);
    const changed = await start(2, dir);
    const why = await waitFor('the new build to refuse', async () => changed.broken());
    expect(why).toMatch(/fold version 1.*fold is version 2/);
    expect(why).toMatch(/npm run states:migrate -- order-fulfilment.*new STATE_CHANGELOG_EPOCH/);
    expect(changed.notReady()).toBe(why);
    // It took on no partition, so it decided nothing and wrote nothing.
    expect(changed.stats()).toMatchObject({ partitions: [], inputsDecided: 0, transactions: 0 });
    await stop(changed);
    expect(await endOffsets(kafka, [topics.orderCommands, topics.paymentRequests, topics.changelog])).toEqual(outputs);
    // The old build's store is left as it was.
    const partition = partitionFor(FIRST[0] as string, PARTITIONS);
    expect(readStoreMeta(storeDirOf(stateDir, topics.changelog, partition))).toMatchObject({ foldVersion: 1 });
    if (dir !== stateDir) rmSync(dir, { recursive: true, force: true });
  });

  it('the build with the old fold, on the same store, decides what was left waiting', async () => {
    const runtime = await start(1, stateDir);
    await waitFor('a payment request for the orders placed while the changed build refused', async () => ((await requests()).length >= FIRST.length + 2 ? true : undefined));
    const stats = runtime.stats();
    expect(stats.instances).toBe(FIRST.length + 2);
    // Only the two orders placed meanwhile changed anything; no old order timed out.
    expect(stats.inputsChanged).toBe(2);
    expect(stats.deadlinesFired).toBe(0);
    await stop(runtime);
  });

  it('the migration refuses while an instance runs, and without a migration, writing nothing', async () => {
    const before = await endOffsets(kafka, [topics.changelog]);
    const running = await start(1, stateDir);
    await waitFor('the old build to be ready', async () => (running.notReady() === undefined ? true : undefined));
    await expect(migrateStates(kafka, codec, definition(2, true), target)).rejects.toThrow(/member\(s\); stop every instance/);
    await stop(running);
    const refused = migrateStates(kafka, codec, definition(2), target);
    await expect(refused).rejects.toBeInstanceOf(MigrationRefused);
    await expect(refused).rejects.toThrow(new RegExp(`${FIRST.length + 2} state\\(s\\) .* fold version 1, and this build's fold \\(version 2\\) declares no migration`));
    expect(await endOffsets(kafka, [topics.changelog])).toEqual(before);
  });

  it('migrated states, on a new changelog epoch, are decided on by the new build with its new fold', async () => {
    const migrated = await migrateStates(kafka, codec, definition(2, true), target);
    expect(migrated).toEqual({ states: FIRST.length + 2, migrated: new Map([[1, FIRST.length + 2]]), foldVersion: 2 });
    const latest = [...latestByKey(await readRecords(kafka, topics.changelog)).values()];
    expect(latest.map((r) => r.headers[FOLD_VERSION_HEADER])).toEqual(latest.map(() => '2'));
    // With the old epoch its store (of fold version 1) is still refused: the epoch is what rebuilds it.
    const sameEpoch = await start(2, stateDir, '1', true);
    expect(await waitFor('the same epoch refused', async () => sameEpoch.broken())).toMatch(/store of .* fold version 1/);
    await stop(sameEpoch);
    const runtime = await start(2, stateDir, '2', true);
    // Every order still waits for its payment: under the new fold each one times out within a second of the migration.
    await waitFor('every migrated payment deadline to fire', async () => (runtime.stats().deadlinesFired >= FIRST.length + 2 ? true : undefined), 30_000);
    expect(runtime.broken()).toBeUndefined();
    await stop(runtime);
    const partition = partitionFor(FIRST[0] as string, PARTITIONS);
    expect(readStoreMeta(storeDirOf(stateDir, topics.changelog, partition))).toMatchObject({ foldVersion: 2, epoch: '2' });
    // Run again, it finds nothing left to migrate.
    expect((await migrateStates(kafka, codec, definition(2, true), target)).migrated.size).toBe(0);
  });
});
