// Two overlapping assignments of one partition in one process (the old task
// not yet closed, the new one opening): the second open waits for the first
// to close instead of failing on SQLite's lock (docs/state-stores.md "Safety").
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { openAndRestore, takeStoreDir, type Restored } from '../../../../infra/state/open-store';
import { StoreInUseError } from '../../../../infra/state/state-store';
import type { StoreIdentity } from '../../../../infra/state/restore-plan';

const identity: StoreIdentity = { topic: 'test.changelog', partition: 0, epoch: 'e1', foldVersion: 1 };
const decode = (bytes: Buffer) => bytes.toString();
let dir: string;

beforeEach(() => (dir = join(mkdtempSync(join(tmpdir(), 'store-handover-test-')), 'p0')));
afterEach(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

/** A Kafka whose admin says the changelog is empty: opening needs no broker and reads nothing. */
function emptyChangelog(): { kafka: Kafka; lookups: () => number } {
  let lookups = 0;
  const admin = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    fetchTopicOffsets: async () => {
      lookups += 1;
      return [{ partition: 0, offset: '0', low: '0', high: '0' }];
    },
  };
  return { kafka: { admin: () => admin } as unknown as Kafka, lookups: () => lookups };
}

const ready = <S>(r: Restored<S>) => {
  if (r.kind !== 'ready') throw new Error(`expected a ready store, got ${r.kind}`);
  return r.store;
};

/** Lets every pending promise and I/O callback run (no timer involved). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i += 1) await new Promise((done) => setImmediate(done));
};

describe('a store directory handed over within one process', () => {
  it('opens the second holder only once the first has closed the store, with what the first wrote', async () => {
    const { kafka, lookups } = emptyChangelog();
    const first = ready(await openAndRestore(kafka, dir, identity, { decode }));
    first.apply([{ key: 'order-1', value: Buffer.from('placed'), foldVersion: 1 }], 0);
    const lookupsBefore = lookups();
    let outcome: string | undefined;
    const second = openAndRestore(kafka, dir, identity, { decode }).then(
      (r) => ((outcome = 'opened'), r),
      (error: unknown) => {
        outcome = error instanceof Error ? error.name : String(error);
        throw error;
      },
    );
    try {
      await settle();
      // Still waiting: it has not even asked Kafka for the changelog's offsets yet.
      expect(outcome).toBeUndefined();
      expect(lookups()).toBe(lookupsBefore);
    } finally {
      first.close();
    }
    const store = ready(await second);
    expect(outcome).toBe('opened');
    expect(store.getEntry('order-1')?.value.toString()).toBe('placed');
    store.close();
  });

  it('gives up with StoreInUseError after the wait, and hands over at once after the close', async () => {
    const release = await takeStoreDir(dir);
    await expect(takeStoreDir(dir, 20)).rejects.toBeInstanceOf(StoreInUseError);
    const next = takeStoreDir(dir);
    release();
    release(); // idempotent
    const releaseNext = await next;
    releaseNext();
    const again = await takeStoreDir(dir, 0);
    again();
  });

  it('releases the directory when opening fails', async () => {
    const failing = { admin: () => ({ connect: async () => Promise.reject(new Error('no broker')), disconnect: async () => undefined }) } as unknown as Kafka;
    await expect(openAndRestore(failing, dir, identity, { decode })).rejects.toThrow('no broker');
    const { kafka } = emptyChangelog();
    const store = ready(await openAndRestore(kafka, dir, identity, { decode, handoverWaitMs: 0 }));
    store.close();
  });
});
