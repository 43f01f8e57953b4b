// A restore whose store writes run on a worker thread (infra/state/store-writer.ts)
// against the real broker: the same store as the inline restore, key for key,
// with summaries and offset; a write that fails in the worker rejects the
// restore with its cause and leaves a prefix the next restore continues from
// (docs/state-stores.md "Store writes in a worker thread").
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { logLevel, type Producer } from 'kafkajs';
import { fencedProducer } from '../../infra/kafka/transactions';
import { FOLD_VERSION_HEADER, type Change } from '../../infra/state/changelog-restore';
import { openAndRestore, type Restored } from '../../infra/state/open-store';
import type { StoreIdentity } from '../../infra/state/restore-plan';
import { STORE_FILE, type StateStore } from '../../infra/state/state-store';
import { createTopicsAndWait, testKafka, unique } from '../support/kafka';

const kafka = testKafka('state-writer-test');
const topic = unique('it.state-writer-changelog');
const identity: StoreIdentity = { topic, partition: 0, epoch: 'e1', foldVersion: 1 };
const decode = (bytes: Buffer) => bytes.toString();
/** Summaries as a runtime's row function adds them (stamped-store.ts). */
const prepare = async (changes: readonly Change[]): Promise<readonly Change[]> =>
  changes.map((c) => ({ ...c, summary: { label: c.key.endsWith('0') ? 'round' : 'other', due: c.key.endsWith('7') ? `due-${c.key}` : null } }));

/** Every committed record, in offset order: [offset, key, value]. */
const log: Array<readonly [number, string, string | null]> = [];
let producer: Producer;
let root: string;

async function commit(writes: ReadonlyArray<readonly [string, string | null]>): Promise<void> {
  const txn = await producer.transaction();
  const [meta] = await txn.send({ topic, messages: writes.map(([key, value]) => ({ key, value, partition: 0, headers: { [FOLD_VERSION_HEADER]: '1' } })) });
  await txn.commit();
  const base = Number(meta?.baseOffset);
  writes.forEach(([key, value], i) => log.push([base + i, key, value]));
}

/** The fold of the committed records below `offset`. */
function foldBelow(offset: number): Map<string, string> {
  const state = new Map<string, string>();
  for (const [at, key, value] of log) {
    if (at >= offset) break;
    if (value === null) state.delete(key);
    else state.set(key, value);
  }
  return state;
}

function ready(restored: Restored<string>): Extract<Restored<string>, { kind: 'ready' }> {
  if (restored.kind !== 'ready') throw new Error(restored.message);
  return restored;
}

/** Everything the store holds: rows with their fold versions and summaries, label counts, due keys, offset. */
function snapshot(store: StateStore<string>): unknown {
  return {
    entries: [...store.entries()].map((e) => [e.key, e.value.toString(), e.foldVersion]),
    labels: [...store.labelCounts()].sort(),
    due: [...store.withDue()].sort((a, b) => a.key.localeCompare(b.key)),
    offset: store.reflectsOffset(),
  };
}

function causes(error: unknown): string[] {
  const messages: string[] = [];
  for (let e = error; e instanceof Error; e = e.cause) messages.push(e.message);
  return messages;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'state-writer-it-'));
  await createTopicsAndWait(kafka, [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }]);
  producer = await fencedProducer(testKafka('state-writer-producer', logLevel.NOTHING), unique('it.state-writer'));
  // Small transactions: a fetch returns whole record batches, so these make many restore batches.
  for (let t = 0; t < 20; t += 1) await commit(Array.from({ length: 100 }, (_, i) => [`k-${(t * 211 + i) % 900}`, `v${t}-${i}`] as const));
  await commit(Array.from({ length: 100 }, (_, i) => [`k-${i * 3}`, null] as const));
});

afterAll(async () => {
  await producer?.disconnect();
  rmSync(root, { recursive: true, force: true });
});

it('a restore through a writer thread stores exactly what the inline restore stores (keys, values, fold versions, summaries, offset), with stores sharing one thread or each its own', async () => {
  const inline = ready(await openAndRestore(kafka, join(root, 'inline'), identity, { decode, prepare, writer: 'inline', fetchBytes: 8192 }));
  // Three at once, as a processor restores its partitions: two on the shared thread, one on its own.
  const workers = (
    await Promise.all([
      openAndRestore(kafka, join(root, 'shared-1'), identity, { decode, prepare, writer: 'worker', writerThreads: 'shared', fetchBytes: 8192 }),
      openAndRestore(kafka, join(root, 'shared-2'), identity, { decode, prepare, writer: 'worker', writerThreads: 'shared', fetchBytes: 8192 }),
      openAndRestore(kafka, join(root, 'own'), identity, { decode, prepare, writer: 'worker', writerThreads: 'own', fetchBytes: 8192 }),
    ])
  ).map(ready);
  try {
    expect(inline.restore.writer).toBeUndefined();
    for (const worker of workers) {
      expect(worker.restore.writer?.batches).toBeGreaterThan(3);
      expect(worker.restore.records).toBe(inline.restore.records);
      expect(snapshot(worker.store)).toEqual(snapshot(inline.store));
    }
    expect(new Map([...inline.store.entries()].map((e) => [e.key, e.value.toString()]))).toEqual(foldBelow(inline.store.reflectsOffset()));
  } finally {
    inline.store.close();
    for (const worker of workers) worker.store.close();
  }
});

it('a write failing in the worker rejects the restore with its cause and leaves a prefix the next restore continues from', async () => {
  const dir = join(root, 'failing');
  const first = ready(await openAndRestore(kafka, dir, identity, { decode, writer: 'worker' }));
  const before = first.store.reflectsOffset();
  first.store.close();
  // A real SQLite failure inside the worker's transaction: a trigger refusing one key of the next records.
  const db = new Database(join(dir, STORE_FILE));
  db.exec(`CREATE TRIGGER poison BEFORE INSERT ON state WHEN NEW.key = 'poison' BEGIN SELECT RAISE(ABORT, 'forced failure'); END`);
  db.close();
  await commit(Array.from({ length: 300 }, (_, i) => [`k-${i}`, `after-${i}`] as const));
  await commit([['poison', 'x'], ...Array.from({ length: 300 }, (_, i) => [`k-${i + 300}`, `after2-${i}`] as const)]);
  const poisonAt = log.find(([, key]) => key === 'poison')?.[0] ?? NaN;

  const failed = await openAndRestore(kafka, dir, identity, { decode, writer: 'worker', fetchBytes: 4096 }).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(causes(failed)[0]).toMatch(/restore of .* failed/);
  expect(causes(failed).join(' | ')).toMatch(/forced failure/);

  const inspect = new Database(join(dir, STORE_FILE));
  const { offset } = inspect.prepare<[], { offset: number }>('SELECT offset FROM meta').get()!;
  const rows = new Map(inspect.prepare<[], { key: string; value: Buffer }>('SELECT key, value FROM state').all().map((r) => [r.key, r.value.toString()]));
  inspect.exec('DROP TRIGGER poison');
  inspect.close();
  // Batches before the failing one are written, with their offset; nothing from it on.
  expect(offset).toBeGreaterThan(before);
  expect(offset).toBeLessThanOrEqual(poisonAt);
  expect(rows).toEqual(foldBelow(offset));

  const next = ready(await openAndRestore(kafka, dir, identity, { decode, writer: 'worker' }));
  try {
    expect(next.rebuilt).toBeUndefined();
    expect(next.restore.from).toBe(offset);
    expect(new Map([...next.store.entries()].map((e) => [e.key, e.value.toString()]))).toEqual(foldBelow(next.store.reflectsOffset()));
    expect(next.store.getEntry('poison')?.value.toString()).toBe('x');
  } finally {
    next.store.close();
  }
});
