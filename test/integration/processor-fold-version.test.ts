/**
 * Fold versions on the command processor (docs/command-side.md "Fold
 * versions"), against the real Kafka and registry, on a topic set of the
 * test's own: the processor opens orders with the order fold at version 1 and
 * stamps every snapshot with it; then the order fold is changed (an opened
 * order's customer kept in upper case) and declared as version 2. Whether the
 * new build finds its stores on disk or has to fill them from the snapshot
 * topic, it refuses, says why and what to do (the processor's words and
 * `snapshots:rebuild` advice), and decides and writes nothing; a
 * store it had to fill is deleted, so it refuses again at the next start. The
 * old build on the same stores then decides what waited; after the rebuild, the
 * changed build started with a new STATE_CHANGELOG_EPOCH on the same stores decides.
 * Each test kills the children it started, however it ends.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logLevel } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { FOLD_VERSION_HEADER } from '../../infra/state/changelog-restore';
import { readStoreMeta, StateStore, StoreDamagedError } from '../../infra/state/state-store';
import { waitFor } from '../../infra/wait-for';
import { testKafka, testRegistry, unique } from '../support/kafka';
import { readRecords } from '../support/process-managers';
import { changedOrderFold, checkOpenedOnce, createProcessorTopics, deleteProcessorTopics, openOrders, PROCESSOR_PARTITIONS, processorTopics, written } from '../support/processor-crash';
import { rebuildSnapshots } from '../../producers/command-processor/rebuild-snapshots';
import { crashChild, type CrashChild } from '../support/stateful-crash';

jest.setTimeout(240_000);

const kafka = testKafka('it-processor-fold', logLevel.NOTHING);
const codec = new AvroCodec(testRegistry());
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const run = unique('it-pfold');
const t = processorTopics(run);
const stateDir = mkdtempSync(join(tmpdir(), 'it-processor-fold-'));

/** Runs a processor child for `use`, and kills it however `use` ends: a failed test leaves nothing in the group. */
async function withProcessor<T>(dir: string, fold: 1 | 2, use: (c: CrashChild) => Promise<T>, epoch = '1'): Promise<T> {
  const c = crashChild(['processor-run', run, dir, String(fold)], { TOPIC_PREFIX: run, STATE_CHANGELOG_EPOCH: epoch });
  try {
    return await use(c);
  } finally {
    await c.kill();
  }
}

/**
 * The states of fold version 1 a store directory holds. A store the child was
 * still making when it was killed (another partition restored after the
 * refused one) may have no meta table yet: damaged, rebuilt at the next open,
 * so it holds none; a store whose restore was stopped before it read a record
 * is kept, empty, and reads the changelog from its start next time.
 */
function oldFoldStatesIn(dir: string): string[] {
  let meta: ReturnType<typeof readStoreMeta>;
  try {
    meta = readStoreMeta(dir);
  } catch (error) {
    if (error instanceof StoreDamagedError) return [];
    throw error;
  }
  if (meta === undefined) return [];
  const store = StateStore.open(dir, { topic: meta.topic, partition: meta.partition, epoch: meta.epoch, foldVersion: meta.foldVersion }, { decode: (bytes) => bytes });
  try {
    return [...store.entries()].filter((e) => !e.key.startsWith('@') && e.foldVersion === 1).map((e) => e.key);
  } finally {
    store.close();
  }
}

const FIRST = ['o-1', 'o-2', 'o-3', 'o-4', 'o-5', 'o-6'];
const WAITING = ['o-7', 'o-8'];

beforeAll(async () => {
  await createProcessorTopics(kafka, codec, run);
  await producer.connect();
});

afterAll(async () => {
  await producer.disconnect();
  rmSync(stateDir, { recursive: true, force: true });
  await deleteProcessorTopics(kafka, run);
});

describe('fold versions on the command processor', () => {
  it('stamps every snapshot and store with the fold version of its aggregate', async () => {
    await withProcessor(stateDir, 1, async (old) => {
      await waitFor('the processor ready', async () => (old.lines.includes('ready') ? true : undefined), 120_000);
      await openOrders(producer, codec, run, FIRST);
      await waitFor('the first orders answered', async () => ((await written(kafka, codec, run)).replies.size >= FIRST.length ? true : undefined), 120_000);
    });
    const snapshots = (await readRecords(kafka, t.snapshots, codec)).filter((r) => !r.key.startsWith('@'));
    expect(snapshots.map((r) => r.key).sort()).toEqual(FIRST);
    expect(snapshots.every((r) => r.headers[FOLD_VERSION_HEADER] === '1')).toBe(true);
    const stores = readdirSync(stateDir).filter((d) => d.startsWith(`${t.snapshots}-`));
    expect(stores.length).toBeGreaterThan(0);
    for (const d of stores) expect(readStoreMeta(join(stateDir, d))).toMatchObject({ foldVersion: 1 });
  });

  it.each([
    ['its stores on disk', () => stateDir],
    ['no store (filled from the snapshot topic)', () => mkdtempSync(join(tmpdir(), 'it-processor-fold-fresh-'))],
  ])('a build with the changed fold refuses to decide, with %s, and writes nothing', async (_, dirOf) => {
    const dir = dirOf();
    try {
      const before = await written(kafka, codec, run);
      await openOrders(producer, codec, run, WAITING);
      await withProcessor(dir, 2, async (changed) => {
        const refusal = await waitFor('the refusal', async () => changed.lines.find((l) => l.startsWith('refused ')), 120_000);
        expect(refusal).toMatch(/folded by fold version 1, this build's order fold is version 2/);
        expect(refusal).toMatch(/npm run snapshots:rebuild -- order.*new STATE_CHANGELOG_EPOCH/);
        // The store on disk refused whole; with none, the snapshots it read.
        expect(refusal).toMatch(dir === stateDir ? /the stored snapshots of / : /\d+ snapshot\(s\) of /);
        // Nothing decided or written meanwhile: no reply, no event, no snapshot of the changed fold.
        const after = await written(kafka, codec, run);
        expect([after.replies.size, [...after.events.keys()].length]).toEqual([before.replies.size, [...before.events.keys()].length]);
        expect((await readRecords(kafka, t.snapshots, codec)).every((r) => r.headers[FOLD_VERSION_HEADER] !== '2')).toBe(true);
      });
      const stores = readdirSync(dir).filter((d) => d.startsWith(`${t.snapshots}-`));
      // The order stores, filled from the topic and refused, are not kept with what they read: the refusal holds at the next start.
      if (dir !== stateDir) {
        expect(stores.flatMap((d) => oldFoldStatesIn(join(dir, d)))).toEqual([]);
        const again = await withProcessor(dir, 2, (changed) => waitFor('the refusal at the next start', async () => changed.lines.find((l) => l.startsWith('refused ')) ?? (changed.lines.includes('ready') ? 'ready' : undefined), 120_000));
        expect(again).toMatch(/\d+ snapshot\(s\) of .*folded by fold version 1, this build's order fold is version 2/);
      } else for (const d of stores) expect(readStoreMeta(join(dir, d))).toMatchObject({ foldVersion: 1 });
    } finally {
      if (dir !== stateDir) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the old build, on the same stores, decides what waited, each command once', async () => {
    await withProcessor(stateDir, 1, async () => {
      await waitFor('every command answered', async () => ((await written(kafka, codec, run)).replies.size >= FIRST.length + WAITING.length ? true : undefined), 120_000);
      // The waiting orders were written twice (once per refusing build): a repeat, answered with the original reply.
      expect(checkOpenedOnce(await written(kafka, codec, run), [...FIRST, ...WAITING], new Set(WAITING))).toEqual([]);
    });
  });

  it('after the documented rebuild (snapshots:rebuild with the processors stopped, a new STATE_CHANGELOG_EPOCH), the changed fold decides, duplicates still answered from the snapshots', async () => {
    const rebuilt = await rebuildSnapshots(kafka, codec, changedOrderFold(), { events: t.events, snapshots: t.snapshots, partitions: PROCESSOR_PARTITIONS });
    expect(rebuilt).toEqual({ aggregates: FIRST.length + WAITING.length, events: FIRST.length + WAITING.length, foldVersion: 2 });
    // The stores of fold version 1 on disk are not used again: the new STATE_CHANGELOG_EPOCH has them filled from the rebuilt snapshots.
    await withProcessor(
      stateDir,
      2,
      async (changed) => {
        await waitFor('the changed build ready', async () => (changed.lines.includes('ready') ? true : changed.lines.find((l) => l.startsWith('refused ')) === undefined ? undefined : false), 120_000);
        expect(changed.lines.filter((l) => l.startsWith('refused '))).toEqual([]);
        await openOrders(producer, codec, run, ['o-1', 'o-9']);
        await waitFor('o-9 answered, o-1 answered again', async () => {
          const w = await written(kafka, codec, run);
          return w.replies.has('c-o-9') && (w.replies.get('c-o-1')?.length ?? 0) >= 2 ? true : undefined;
        }, 120_000);
      },
      '2',
    );
    expect(checkOpenedOnce(await written(kafka, codec, run), [...FIRST, ...WAITING, 'o-9'], new Set([...WAITING, 'o-1']))).toEqual([]);
    const latest = new Map((await readRecords(kafka, t.snapshots, codec)).filter((r) => !r.key.startsWith('@')).map((r) => [r.key, r] as const));
    expect([latest.get('o-1')?.headers[FOLD_VERSION_HEADER], (latest.get('o-1')?.value as { customerId?: string }).customerId]).toEqual(['2', 'CUSTOMER-O-1']);
    for (const d of readdirSync(stateDir).filter((x) => x.startsWith(`${t.snapshots}-`))) expect(readStoreMeta(join(stateDir, d))).toMatchObject({ foldVersion: 2, epoch: '2' });
  });
});
