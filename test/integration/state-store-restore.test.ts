// The on-disk state store against the real broker: restore from a changelog
// written in transactions (one aborted), delta-only restores after a clean
// stop and after a crash between a commit and the store write, a stale fold
// version, a damaged file (docs/state-stores.md).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import { fencedProducer } from '../../infra/kafka/transactions';
import { FOLD_VERSION_HEADER } from '../../infra/state/changelog-restore';
import { openAndRestore, type Restored } from '../../infra/state/open-store';
import type { StoreIdentity } from '../../infra/state/restore-plan';
import { STORE_FILE, type StateStore } from '../../infra/state/state-store';
import { logLevel } from 'kafkajs';
import { createTopicsAndWait, testKafka, unique, withAdmin } from '../support/kafka';

const kafka = testKafka('state-store-test');
const topic = unique('it.state-changelog');
const identity: StoreIdentity = { topic, partition: 0, epoch: 'e1', foldVersion: 1 };
const decode = (bytes: Buffer) => bytes.toString();

/** What the committed log folds to: latest value per key, tombstones delete. */
const committed = new Map<string, string>();
let producer: Producer;
/** For the changelog writer: kafkajs logs its quick CONCURRENT_TRANSACTIONS retries as errors; a failed send still throws. */
const quietKafka = testKafka('state-writer', logLevel.NOTHING);
let root: string;

type Write = readonly [key: string, value: string | null];

async function transaction(writes: readonly Write[], outcome: 'commit' | 'abort'): Promise<void> {
  const txn = await producer.transaction();
  await txn.send({
    topic,
    messages: writes.map(([key, value]) => ({ key, value, partition: 0, headers: { [FOLD_VERSION_HEADER]: String(identity.foldVersion) } })),
  });
  if (outcome === 'abort') return txn.abort();
  await txn.commit();
  for (const [key, value] of writes) {
    if (value === null) committed.delete(key);
    else committed.set(key, value);
  }
}

const batchOf = (from: number, count: number, tag: string): Write[] => Array.from({ length: count }, (_, i) => [`order-${from + i}`, `${tag}-${from + i}`]);

function contents(store: StateStore<string>): Map<string, string> {
  return new Map([...store.entries()].map((e) => [e.key, e.value.toString()]));
}

function ready(restored: Restored<string>): Extract<Restored<string>, { kind: 'ready' }> {
  if (restored.kind !== 'ready') throw new Error(restored.message);
  return restored;
}

/** The partition's end as a read-committed reader sees it (kafkajs lists offsets read-committed: the last stable offset). */
async function endOffset(): Promise<number> {
  const offsets = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
  return Number(offsets[0]?.high);
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'state-restore-it-'));
  await createTopicsAndWait(kafka, [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }]);
  producer = await fencedProducer(quietKafka, unique('it.state-writer'));
  await transaction(batchOf(0, 300, 'v1'), 'commit');
  await transaction([...batchOf(0, 50, 'aborted'), ['ghost-1', 'never committed']], 'abort');
  await transaction([...batchOf(0, 20, 'v2'), ['order-299', null]], 'commit');
});

afterAll(async () => {
  await producer?.disconnect();
  rmSync(root, { recursive: true, force: true });
});

describe('state store restore from a transactional changelog', () => {
  const dir = () => join(root, 'p0');

  it('restores an empty store to exactly the fold of the committed log, skipping the aborted transaction', async () => {
    const restored = ready(await openAndRestore(kafka, dir(), identity, { decode }));
    try {
      expect(restored.rebuilt?.reason).toBe('missing');
      expect(restored.restore.from).toBe(0);
      expect(restored.restore.records).toBe(321); // 300 + 21 committed, none of the 51 aborted
      expect(restored.store.reflectsOffset()).toBe(await endOffset());
      expect(contents(restored.store)).toEqual(committed);
      expect(restored.store.get('ghost-1')).toEqual({ kind: 'absent' });
      expect(restored.store.get('order-5')).toEqual({ kind: 'found', state: 'v2-5' });
    } finally {
      restored.store.close();
    }
  });

  it('after a clean stop reads only the records appended since', async () => {
    const before = await endOffset();
    await transaction(batchOf(300, 40, 'v1'), 'commit');
    await transaction(batchOf(0, 10, 'aborted-again'), 'abort');
    await transaction(batchOf(10, 5, 'v3'), 'commit');
    const restored = ready(await openAndRestore(kafka, dir(), identity, { decode }));
    try {
      expect(restored.rebuilt).toBeUndefined();
      expect(restored.restore.from).toBe(before);
      expect(restored.restore.received).toBe(45);
      expect(restored.restore.records).toBe(45);
      expect(contents(restored.store)).toEqual(committed);
    } finally {
      restored.store.close();
    }
  });

  it('catches up after a crash between a commit and the store write', async () => {
    const open = ready(await openAndRestore(kafka, dir(), identity, { decode }));
    const reflected = open.store.reflectsOffset();
    // The task commits its transaction, then dies before writing its store.
    await transaction([['order-1', 'decided-before-crash'], ['order-400', 'new-before-crash']], 'commit');
    open.store.close();
    const restored = ready(await openAndRestore(kafka, dir(), identity, { decode }));
    try {
      expect(restored.restore.from).toBe(reflected);
      expect(restored.restore.records).toBe(2);
      expect(restored.store.get('order-1')).toEqual({ kind: 'found', state: 'decided-before-crash' });
      expect(contents(restored.store)).toEqual(committed);
    } finally {
      restored.store.close();
    }
  });

  it('stops short of a transaction still open when it starts, and applies it after it commits', async () => {
    const open = await producer.transaction();
    const [sent] = await open.send({ topic, messages: [{ key: 'late', value: 'committed-after-restore', partition: 0, headers: { [FOLD_VERSION_HEADER]: '1' } }] });
    const during = ready(await openAndRestore(kafka, dir(), identity, { decode }));
    try {
      expect(during.store.get('late')).toEqual({ kind: 'absent' });
      // It reflects the last stable offset: not past the open transaction's record.
      expect(during.store.reflectsOffset()).toBeLessThanOrEqual(Number(sent?.baseOffset));
      expect(contents(during.store)).toEqual(committed);
    } finally {
      during.store.close();
    }
    await open.commit();
    committed.set('late', 'committed-after-restore');
    const after = ready(await openAndRestore(kafka, dir(), identity, { decode }));
    try {
      expect(after.restore.records).toBe(1);
      expect(contents(after.store)).toEqual(committed);
    } finally {
      after.store.close();
    }
  });

  it('signals a stale fold for a store folded by another fold version, and does not restore it', async () => {
    const restored = await openAndRestore(kafka, dir(), { ...identity, foldVersion: 2 }, { decode });
    expect(restored).toMatchObject({ kind: 'stale-fold', stored: 1, expected: 2 });
    // The store is left as it was for the rebuild to decide on.
    const again = ready(await openAndRestore(kafka, dir(), identity, { decode }));
    try {
      expect(again.rebuilt).toBeUndefined();
      expect(again.restore.records).toBe(0);
    } finally {
      again.store.close();
    }
  });

  it('rebuilds a corrupted store file from the changelog', async () => {
    writeFileSync(join(dir(), STORE_FILE), Buffer.alloc(16_384, 0x42));
    const restored = ready(await openAndRestore(kafka, dir(), identity, { decode }));
    try {
      expect(restored.rebuilt?.reason).toBe('damaged');
      expect(restored.restore.from).toBe(0);
      expect(contents(restored.store)).toEqual(committed);
      expect(restored.store.reflectsOffset()).toBe(await endOffset());
    } finally {
      restored.store.close();
    }
  });

  it('rebuilds a store from another changelog epoch', async () => {
    const restored = ready(await openAndRestore(kafka, dir(), { ...identity, epoch: 'e2' }, { decode }));
    try {
      expect(restored.rebuilt?.reason).toBe('other-epoch');
      expect(contents(restored.store)).toEqual(committed);
    } finally {
      restored.store.close();
    }
  });

  it('stopped after its first batch (revoked, or killed), a restore leaves a consistent store that the next restore completes', async () => {
    const resumeDir = join(root, 'p0-resume');
    const stop = new AbortController();
    let stoppedAt = -1;
    await expect(
      openAndRestore(kafka, resumeDir, identity, {
        decode,
        fetchBytes: 1024,
        signal: stop.signal,
        onProgress: ({ offset }) => {
          stoppedAt = offset;
          stop.abort(new Error('test stops the restore'));
        },
      }),
    ).rejects.toThrow(/stopped at offset/);
    const end = await endOffset();
    expect(stoppedAt).toBeGreaterThan(0);
    expect(stoppedAt).toBeLessThan(end);

    const resumed = ready(await openAndRestore(kafka, resumeDir, identity, { decode }));
    try {
      expect(resumed.rebuilt).toBeUndefined();
      expect(resumed.restore.from).toBe(stoppedAt);
      expect(contents(resumed.store)).toEqual(committed);
      expect(resumed.store.reflectsOffset()).toBe(end);
    } finally {
      resumed.store.close();
    }
  });
});
