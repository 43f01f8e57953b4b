/**
 * Crash points of the command processor with its aggregates on disk, with a
 * real kill -9 of a child process running it (test/support/stateful-crash-child.ts,
 * modes `processor-*`) on a topic set of the test's own, against the real
 * Kafka and registry:
 *
 * - killed between a transaction's commit and its store write: the store is
 *   behind the committed snapshot partition; the next owner restores the delta
 *   and goes on from the committed checkpoint;
 * - killed part-way through a restore (slowed to one small batch at a time):
 *   the next owner goes on from the offsets the stores reached;
 * - killed while a rebalance is under way (a second member joining, commands
 *   arriving): the survivor takes every partition and goes on from the
 *   committed checkpoints.
 *
 * Afterwards every order has exactly one event at version 1 (no duplicate
 * event version), every command is answered (none lost) exactly once (none
 * decided twice), and a repeated commandId is answered with the original
 * reply, read from the store.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logLevel } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { readStoreMeta } from '../../infra/state/state-store';
import { waitFor } from '../../infra/wait-for';
import { testKafka, testRegistry, unique, withAdmin } from '../support/kafka';
import { endOffsets } from '../support/process-managers';
import { checkOpenedOnce, createProcessorTopics, deleteProcessorTopics, openOrders, processorTopics, written } from '../support/processor-crash';
import { crashChild, type CrashChild } from '../support/stateful-crash';

jest.setTimeout(240_000);

const kafka = testKafka('it-processor-crash', logLevel.NOTHING);
const codec = new AvroCodec(testRegistry());
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const dirs: string[] = [];
const runs: string[] = [];
const children = new Set<CrashChild>();

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'it-processor-crash-'));
  dirs.push(dir);
  return dir;
}

async function newRun(): Promise<string> {
  const run = unique('it-pcrash');
  runs.push(run);
  await createProcessorTopics(kafka, codec, run);
  return run;
}

function processor(mode: 'run' | 'hang-after-commit' | 'slow-restore', run: string, stateDir: string): CrashChild {
  const c = crashChild([`processor-${mode}`, run, stateDir], { TOPIC_PREFIX: run });
  children.add(c);
  return c;
}

async function kill(c: CrashChild): Promise<void> {
  await c.kill();
  children.delete(c);
}

const orders = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`);

/** Waits until every command of `all` (and the repeats) is answered, then checks nothing was decided twice or lost. */
async function everyCommandDecidedOnce(run: string, all: readonly string[], repeated: ReadonlySet<string>): Promise<void> {
  const w = await waitFor(
    'every command answered',
    async () => {
      const now = await written(kafka, codec, run);
      return all.every((o) => (now.replies.get(`c-${o}`)?.length ?? 0) >= (repeated.has(o) ? 2 : 1)) ? now : undefined;
    },
    120_000,
  );
  expect(checkOpenedOnce(w, all, repeated)).toEqual([]);
}

beforeAll(async () => {
  await producer.connect();
});

afterAll(async () => {
  for (const c of children) await c.kill();
  await producer.disconnect();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  for (const run of runs) await deleteProcessorTopics(kafka, run);
});

describe('the command processor killed at its crash points', () => {
  it('killed between a commit and its store write: the next owner restores the commit, decides nothing twice and loses nothing', async () => {
    const run = await newRun();
    const t = processorTopics(run);
    const first = orders('a', 12);
    await openOrders(producer, codec, run, first);
    const stateDir = tempDir();
    const doomed = processor('hang-after-commit', run, stateDir);
    await waitFor('a transaction committed', async () => (doomed.lines.some((l) => l.startsWith('committed ')) ? true : undefined), 120_000);
    await kill(doomed);

    // Committed to Kafka, not stored: some store is behind its snapshot partition.
    const ends = (await endOffsets(kafka, [t.snapshots])).get(t.snapshots) ?? new Map<number, number>();
    const stores = readdirSync(stateDir).filter((d) => d.startsWith(`${t.snapshots}-`));
    const behind = stores.filter((d) => (readStoreMeta(join(stateDir, d))?.offset ?? 0) < (ends.get(Number(d.slice(t.snapshots.length + 1))) ?? 0));
    expect(behind.length).toBeGreaterThan(0);

    const survivor = processor('run', run, stateDir);
    await waitFor('the survivor ready', async () => (survivor.lines.includes('ready') ? true : undefined), 120_000);
    // Repeats of commands decided before the crash, and new ones.
    const later = orders('b', 6);
    await openOrders(producer, codec, run, [...first.slice(0, 4), ...later]);
    await everyCommandDecidedOnce(run, [...first, ...later], new Set(first.slice(0, 4)));
    await kill(survivor);
  });

  it('killed part-way through a restore: the next owner goes on from where the stores got to, and decides every command once', async () => {
    const run = await newRun();
    const t = processorTopics(run);
    const first = orders('a', 40);
    const filler = processor('run', run, tempDir());
    await waitFor('the filler ready', async () => (filler.lines.includes('ready') ? true : undefined), 120_000);
    // Eight transactions at least, so each snapshot partition holds several record batches to restore one by one.
    for (let i = 0; i < first.length; i += 5) {
      await openOrders(producer, codec, run, first.slice(i, i + 5));
      await waitFor('the orders decided', async () => ((await written(kafka, codec, run)).replies.size >= i + 5 ? true : undefined), 120_000);
    }
    await kill(filler);

    // A fresh state directory: the whole snapshot partitions to read, one small batch at a time.
    const stateDir = tempDir();
    const slow = processor('slow-restore', run, stateDir);
    await waitFor('the restore under way', async () => (slow.lines.filter((l) => l.startsWith(`restoring ${t.snapshots} `)).length >= 3 ? true : undefined), 120_000);
    await kill(slow);
    const reached = readdirSync(stateDir)
      .filter((d) => d.startsWith(`${t.snapshots}-`))
      .map((d) => readStoreMeta(join(stateDir, d))?.offset ?? 0);
    expect(Math.max(0, ...reached)).toBeGreaterThan(0);

    const survivor = processor('run', run, stateDir);
    await waitFor('the survivor ready', async () => (survivor.lines.includes('ready') ? true : undefined), 120_000);
    const later = orders('b', 6);
    await openOrders(producer, codec, run, [...first.slice(0, 5), ...later]);
    await everyCommandDecidedOnce(run, [...first, ...later], new Set(first.slice(0, 5)));
    await kill(survivor);
  });

  it('killed while a second member joins: the survivor takes every partition, loses nothing and decides nothing twice', async () => {
    const run = await newRun();
    const t = processorTopics(run);
    const first = orders('a', 12);
    const doomed = processor('run', run, tempDir());
    await waitFor('the first member ready', async () => (doomed.lines.includes('ready') ? true : undefined), 120_000);
    await openOrders(producer, codec, run, first);
    await waitFor('the first orders decided', async () => ((await written(kafka, codec, run)).replies.size >= first.length ? true : undefined), 120_000);

    // A second member joins; commands keep arriving; the first member dies while the group rebalances.
    const survivor = processor('run', run, tempDir());
    await waitFor(
      'the group rebalancing with the second member',
      async () => {
        const group = await withAdmin(kafka, async (admin) => (await admin.describeGroups([t.groupId])).groups[0]);
        return group !== undefined && (group.state !== 'Stable' || group.members.length === 2) ? true : undefined;
      },
      120_000,
      50,
    );
    const later = orders('b', 12);
    await openOrders(producer, codec, run, [...first.slice(0, 4), ...later]);
    await kill(doomed);

    await waitFor('the survivor ready', async () => (survivor.lines.includes('ready') ? true : undefined), 120_000);
    await everyCommandDecidedOnce(run, [...first, ...later], new Set(first.slice(0, 4)));
    await kill(survivor);
  });
});
