/**
 * Crash points of the stateful runtime, with a real kill -9 of a child process
 * running it (order fulfilment on topics of the test's own, every payment left
 * unanswered so every order times out) against the real Kafka and registry:
 *
 * - killed between a round's commit and its store write: the store is behind
 *   the committed log; the next owner's delta restore reads the transaction,
 *   decides nothing twice and loses no deadline;
 * - killed part-way through a restore (slowed to one small batch at a time):
 *   the next owner goes on from the offsets the stores reached;
 * - killed while a rebalance (a second member joining) is under way: the
 *   survivor takes every partition, and every order is requested and timed out
 *   exactly once.
 *
 * And no crash: a second member joins while the first restores a large
 * changelog, slowed to take longer than the group's session and rebalance
 * timeouts; the group settles with the partitions shared, neither member's
 * transactions are fenced, and every order is decided once.
 */
import { logLevel } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { rootLogger } from '../../infra/logging';
import { readStoreMeta } from '../../infra/state/state-store';
import { storeDirOf } from '../../infra/stateful/load';
import { ProcessManagerRuntime } from '../../consumers/process-managers/runtime/runtime';
import type { FulfilmentInput } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import type { OrderFulfilmentState } from '../../schemas/generated/types';
import { testKafka, testRegistry, withAdmin } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { endOffsets, readRecords } from '../support/process-managers';
import { CrashHarness } from '../support/crash-harness';
import { crashTopics, fulfilment, type CrashChild } from '../support/stateful-crash';

jest.setTimeout(240_000);

const kafka = testKafka('it-stateful-crash', logLevel.NOTHING);
const codec = new AvroCodec(testRegistry());
const logger = rootLogger.child({ test: 'stateful-crash' });
logger.level = 'silent';
const PARTITIONS = 6;
// Counted from each OrderPlaced's time: room for a kill, a restart and a restore on a loaded machine before orders time out.
const TIMEOUT_MS = 15_000;
const harness = new CrashHarness(kafka, codec, 'it-stateful-crash', PARTITIONS);
type Runtime = ProcessManagerRuntime<OrderFulfilmentState, FulfilmentInput>;
const tempDir = (): string => harness.tempDir();
const topicsOfRun = (): ReturnType<CrashHarness['topicsOfRun']> => harness.topicsOfRun('it-crash');
const child = (args: string[], env: Readonly<Record<string, string>> = {}): CrashChild => harness.child(args, env);
const kill = (run: CrashChild): Promise<void> => harness.kill(run);
const place = (made: ReturnType<typeof crashTopics>, orders: readonly string[]): Promise<void> => harness.place(made, orders);

const inProcess = (made: ReturnType<typeof crashTopics>, stateDir: string): Promise<Runtime> =>
  harness.started(new ProcessManagerRuntime({ kafka, codec, logger, definition: fulfilment(TIMEOUT_MS), topicMap: made.topicMap, groupId: made.groupId, stateDir, offsetFlushMs: 200 }));

/** A first owner decides the orders wave after wave (several transactions per changelog partition), then stops. */
async function decidedInWaves(made: ReturnType<typeof crashTopics>, waves: ReadonlyArray<readonly string[]>): Promise<void> {
  const first = await inProcess(made, tempDir());
  let want = 0;
  for (const [w, wave] of waves.entries()) {
    await place(made, wave);
    want += wave.length;
    await waitFor(
      `the payment requests of wave ${w + 1}`,
      async () => ((await readRecords(kafka, made.topics.paymentRequests, codec)).filter((r) => r.type === 'PaymentRequested').length >= want ? true : undefined),
      120_000,
    );
  }
  await harness.stop(first);
}

const everyOrderDecidedOnce = async (made: ReturnType<typeof crashTopics>, orders: readonly string[]): Promise<void> => void (await harness.everyOrderDecidedOnce(made, orders));

beforeAll(() => harness.start());
afterAll(() => harness.cleanUp());

describe('the stateful runtime killed at its crash points', () => {
  it('killed between a commit and its store write: the restore reads the commit, nothing is decided twice, no deadline is lost', async () => {
    const made = await topicsOfRun();
    const orders = Array.from({ length: 12 }, (_, i) => `o-${i + 1}`);
    const stateDir = tempDir();
    const partition = await harness.killedAfterCommit(made, orders, stateDir, TIMEOUT_MS);

    // The crash point: the transaction is in the log, the store does not have it.
    const stored = readStoreMeta(storeDirOf(stateDir, made.topics.changelog, partition));
    const committed = (await readRecords(kafka, made.topics.changelog)).filter((r) => r.partition === partition);
    expect(committed.length).toBeGreaterThan(0);
    expect(stored?.offset ?? 0).toBeLessThanOrEqual(Math.min(...committed.map((r) => r.offset)));

    const survivor = await inProcess(made, stateDir);
    await everyOrderDecidedOnce(made, orders);
    expect(survivor.stats()).toMatchObject({ instances: orders.length, pendingDeadlines: 0 });
    await harness.stop(survivor);
    // The store caught up with the log: it reflects every changelog record of the partition.
    const last = Math.max(...(await readRecords(kafka, made.topics.changelog)).filter((r) => r.partition === partition).map((r) => r.offset));
    expect(readStoreMeta(storeDirOf(stateDir, made.topics.changelog, partition))?.offset).toBeGreaterThan(last);
  });

  it('killed part-way through a restore: the next restore goes on from where the stores stopped, and every order is decided once', async () => {
    const made = await topicsOfRun();
    const waves = [0, 1, 2].map((w) => Array.from({ length: 10 }, (_, i) => `r${w}-${i + 1}`));
    const orders = waves.flat();
    await decidedInWaves(made, waves);

    // A new owner with no store restores slowly and is killed after a few batches.
    const stateDir = tempDir();
    const doomed = child(['slow-restore', made.run, stateDir, String(TIMEOUT_MS)]);
    await waitFor('the child to apply three restore batches', async () => (doomed.lines.filter((l) => l.startsWith('restoring ')).length >= 3 ? true : undefined), 90_000);
    await kill(doomed);
    const ends = (await endOffsets(kafka, [made.topics.changelog])).get(made.topics.changelog) ?? new Map<number, number>();
    const reached = Array.from({ length: PARTITIONS }, (_, p) => readStoreMeta(storeDirOf(stateDir, made.topics.changelog, p))?.offset ?? 0);
    // Part-way: some of the changelog is in the stores, not all of it.
    expect(reached.some((offset) => offset > 0)).toBe(true);
    expect(reached.some((offset, p) => offset < (ends.get(p) ?? 0))).toBe(true);

    const survivor = await inProcess(made, stateDir);
    await everyOrderDecidedOnce(made, orders);
    expect(survivor.stats()).toMatchObject({ instances: orders.length, pendingDeadlines: 0 });
  });

  it('killed while a second member joins: the survivor takes every partition and decides every order once', async () => {
    const made = await topicsOfRun();
    const first = Array.from({ length: 12 }, (_, i) => `a-${i + 1}`);
    const second = Array.from({ length: 12 }, (_, i) => `b-${i + 1}`);
    await place(made, first);
    const doomed = child(['run', made.run, tempDir(), String(TIMEOUT_MS)]);
    await waitFor('the child to own every partition', async () => (doomed.lines.includes('owns 0,1,2,3,4,5') ? true : undefined), 90_000);
    await waitFor(
      'the child to request the first payments',
      async () => ((await readRecords(kafka, made.topics.paymentRequests, codec)).filter((r) => r.type === 'PaymentRequested').length >= first.length ? true : undefined),
      90_000,
    );
    // A second member joins (the group rebalances); more orders arrive; the first member dies mid-rebalance.
    const survivor = await inProcess(made, tempDir());
    await place(made, second);
    await kill(doomed);
    await waitFor('the survivor to own every partition', async () => (survivor.stats().partitions.length === PARTITIONS ? true : undefined), 120_000);
    await everyOrderDecidedOnce(made, [...first, ...second]);
    expect(survivor.stats()).toMatchObject({ instances: first.length + second.length, pendingDeadlines: 0 });
  });
});

describe('a rebalance while a member restores a large changelog', () => {
  it('the group settles with the partitions shared, nobody is fenced, and every order is decided once', async () => {
    const made = await topicsOfRun();
    const waves = [0, 1, 2, 3, 4].map((w) => Array.from({ length: 8 }, (_, i) => `m${w}-${i + 1}`));
    await decidedInWaves(made, waves);

    // A member with no store restores one small batch a second: far longer than the 6 s session and the 20 s rebalance timeout.
    const restoring = child(['slow-restore', made.run, tempDir(), String(TIMEOUT_MS)], { RESTORE_DELAY_MS: '1000' });
    await waitFor('the first member to be restoring', async () => (restoring.lines.filter((l) => l.startsWith('restoring ')).length >= 2 ? true : undefined), 90_000);
    const restoreStarted = restoring.lines.length;
    const joining = await inProcess(made, tempDir());
    const later = Array.from({ length: 12 }, (_, i) => `late-${i + 1}`);
    await place(made, later);

    // Settled: two members, each owning a share, together every partition once, and the restoring one still restoring meanwhile.
    const owned = (): number[] => (restoring.lines.filter((l) => l.startsWith('owns ')).at(-1) ?? 'owns ').slice('owns '.length).split(',').filter((p) => p !== '').map(Number);
    await waitFor(
      'the group to settle with the partitions shared',
      async () => {
        const mine = owned();
        const theirs = joining.stats().partitions;
        const all = [...mine, ...theirs].sort((a, b) => a - b);
        return mine.length > 0 && theirs.length > 0 && all.join(',') === '0,1,2,3,4,5' ? true : undefined;
      },
      120_000,
    );
    expect(restoring.lines.slice(restoreStarted).some((l) => l.startsWith('restoring '))).toBe(true);
    const group = await withAdmin(kafka, async (admin) => (await admin.describeGroups([made.groupId])).groups[0]);
    expect(group?.state).toBe('Stable');
    expect(group?.members).toHaveLength(2);

    await everyOrderDecidedOnce(made, [...waves.flat(), ...later]);
    // Nobody was fenced: neither member had a transaction fail, and the restoring member never left.
    expect(restoring.lines.filter((l) => l.startsWith('failed '))).toEqual([]);
    expect(joining.stats().transactionsFailed).toBe(0);
    expect(restoring.process.exitCode).toBeNull();
  });
});
