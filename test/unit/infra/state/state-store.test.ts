import Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectStore, openStore } from '../../../../infra/state/open-store';
import { StateStore, STORE_FILE, StoreDamagedError, StoreInUseError } from '../../../../infra/state/state-store';
import type { StoreIdentity } from '../../../../infra/state/restore-plan';

const identity: StoreIdentity = { topic: 'test.changelog', partition: 0, epoch: 'e1', foldVersion: 3 };
const decode = (bytes: Buffer) => JSON.parse(bytes.toString()) as { n: number };
const bytes = (n: number) => Buffer.from(JSON.stringify({ n }));
let dir: string;

beforeEach(() => (dir = join(mkdtempSync(join(tmpdir(), 'state-store-test-')), 'p0')));
afterEach(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

describe('StateStore', () => {
  it('applies puts and deletes with the offset they reflect, and keeps them across a reopen', () => {
    const store = StateStore.create(dir, identity, 0, { decode });
    store.apply([{ key: 'a', value: bytes(1), foldVersion: 3 }, { key: 'b', value: bytes(2), foldVersion: 3 }], 5);
    store.apply([{ key: 'a', value: null, foldVersion: 3 }, { key: 'b', value: bytes(4), foldVersion: 3 }], 9);
    expect(store.reflectsOffset()).toBe(9);
    store.close();

    const opened = openStore(dir, identity, { low: 0, high: 9 }, { decode });
    if (opened.kind !== 'ready') throw new Error(opened.kind);
    expect(opened.rebuilt).toBeUndefined();
    expect(opened.store.reflectsOffset()).toBe(9);
    expect(opened.store.get('a')).toEqual({ kind: 'absent' });
    expect(opened.store.get('b')).toEqual({ kind: 'found', state: { n: 4 } });
    expect(opened.store.size()).toBe(1);
    opened.store.close();
  });

  it('counts states by label and lists the keys with something due, from the summary columns, without decoding', () => {
    const store = StateStore.create(dir, identity, 0, {
      decode: () => {
        throw new Error('nothing is decoded for counts or due lists');
      },
    });
    const change = (key: string, label: string | null, due: string | null, trace: string | null = null) => ({ key, value: bytes(1), foldVersion: 3, summary: { label, due }, trace });
    const trace = JSON.stringify({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    store.apply([change('a', 'OPEN', '[["pay",10]]', trace), change('b', 'OPEN', null), change('c', 'CLOSED', null), change('d', null, '[["x",5]]')], 4);
    expect(store.labelCounts()).toEqual(new Map([['OPEN', 2], ['CLOSED', 1]]));
    // Each with the trace of the step that wrote it, kept beside the state.
    expect([...store.withDue()]).toEqual([{ key: 'a', due: '[["pay",10]]', trace }, { key: 'd', due: '[["x",5]]', trace: null }]);
    // A new value replaces the summary; a tombstone removes it.
    store.apply([change('a', 'CLOSED', null), { key: 'd', value: null, foldVersion: 3 }], 6);
    expect(store.labelCounts()).toEqual(new Map([['OPEN', 1], ['CLOSED', 2]]));
    expect([...store.withDue()]).toEqual([]);
    store.close();
  });

  it('never moves its offset back', () => {
    const store = StateStore.create(dir, identity, 10, { decode });
    expect(() => store.apply([{ key: 'a', value: bytes(1), foldVersion: 3 }], 9)).toThrow(/refusing to move back/);
    expect(store.getEntry('a')).toBeUndefined();
    store.close();
  });

  it('writes a batch and its offset all or nothing', () => {
    const store = StateStore.create(dir, identity, 0, { decode });
    store.apply([{ key: 'a', value: bytes(1), foldVersion: 3 }], 1);
    // A value SQLite refuses (NOT NULL) half-way through the batch rolls the whole batch back.
    const bad = { key: 'c', value: undefined as unknown as Buffer, foldVersion: 3 };
    expect(() => store.apply([{ key: 'b', value: bytes(2), foldVersion: 3 }, bad], 2)).toThrow();
    expect(store.reflectsOffset()).toBe(1);
    store.close();
    const reopened = StateStore.open(dir, identity, { decode });
    expect(reopened.reflectsOffset()).toBe(1);
    expect(reopened.getEntry('b')).toBeUndefined();
    reopened.close();
  });

  it('keeps at most decodedCapacity states decoded, and decodes each once while recent', () => {
    let decodes = 0;
    const store = StateStore.create(dir, identity, 0, { decode: (b) => ((decodes += 1), decode(b)), decodedCapacity: 2 });
    store.apply([1, 2, 3].map((n) => ({ key: `k${n}`, value: bytes(n), foldVersion: 3 })), 3);
    for (const key of ['k1', 'k1', 'k2', 'k3', 'k3']) store.get(key);
    expect(decodes).toBe(3);
    expect(store.decodedCount()).toBe(2);
    store.apply([{ key: 'k3', value: bytes(30), foldVersion: 3 }], 4);
    expect(store.get('k3')).toEqual({ kind: 'found', state: { n: 30 } });
    store.close();
  });

  it('reports a state folded by another fold version as stale instead of decoding it', () => {
    const store = StateStore.create(dir, identity, 0, { decode });
    store.apply([{ key: 'old', value: bytes(1), foldVersion: 2 }], 1);
    expect(store.get('old')).toEqual({ kind: 'stale', foldVersion: 2 });
    store.close();
  });
  it('is held by one owner: a second open is refused, not rebuilt from under it', () => {
    const owner = StateStore.create(dir, identity, 0, { decode });
    owner.apply([{ key: 'a', value: bytes(1), foldVersion: 3 }], 1);
    try {
      expect(() => StateStore.open(dir, identity, { decode })).toThrow(StoreInUseError);
      expect(() => openStore(dir, identity, { low: 0, high: 50 }, { decode })).toThrow(StoreInUseError);
      expect(owner.getEntry('a')?.value).toEqual(bytes(1));
    } finally {
      owner.close();
    }
    const next = StateStore.open(dir, identity, { decode });
    expect(next.reflectsOffset()).toBe(1);
    next.close();
  });
});

describe('openStore', () => {
  it('rebuilds a missing store from the log start', () => {
    const opened = openStore(dir, identity, { low: 0, high: 50 }, { decode });
    expect(opened).toMatchObject({ kind: 'ready', rebuilt: { reason: 'missing' } });
    if (opened.kind === 'ready') {
      expect(opened.store.reflectsOffset()).toBe(0);
      opened.store.close();
    }
  });

  it('signals a stale fold instead of opening a store of another fold version', () => {
    StateStore.create(dir, { ...identity, foldVersion: 2 }, 7, { decode }).close();
    const opened = openStore(dir, identity, { low: 0, high: 50 }, { decode });
    expect(opened).toMatchObject({ kind: 'stale-fold', stored: 2, expected: 3 });
    if (opened.kind === 'stale-fold') expect(opened.message).toMatch(/fold version 2.*version 3/);
  });

  it('rebuilds a store from another changelog epoch', () => {
    StateStore.create(dir, { ...identity, epoch: 'e0' }, 7, { decode }).close();
    expect(openStore(dir, identity, { low: 0, high: 50 }, { decode })).toMatchObject({ kind: 'ready', rebuilt: { reason: 'other-epoch' } });
  });

  it('rebuilds a store of format 3 (a WITHOUT ROWID table keyed by the key) instead of opening it', () => {
    mkdirSync(dir, { recursive: true });
    const old = new Database(join(dir, STORE_FILE));
    old.exec('CREATE TABLE state (key TEXT PRIMARY KEY, value BLOB NOT NULL, fold_version INTEGER NOT NULL, label TEXT, due TEXT, trace TEXT) WITHOUT ROWID');
    old.exec('CREATE TABLE meta (format INTEGER NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, epoch TEXT NOT NULL, fold_version INTEGER NOT NULL, offset INTEGER NOT NULL)');
    old.prepare('INSERT INTO meta VALUES (3, ?, ?, ?, ?, 9)').run(identity.topic, identity.partition, identity.epoch, identity.foldVersion);
    old.prepare('INSERT INTO state VALUES (?, ?, 3, NULL, NULL, NULL)').run('a', bytes(1));
    old.close();
    const opened = openStore(dir, identity, { low: 0, high: 50 }, { decode });
    expect(opened).toMatchObject({ kind: 'ready', rebuilt: { reason: 'format' } });
    if (opened.kind === 'ready') {
      expect(opened.store.reflectsOffset()).toBe(0);
      expect(opened.store.getEntry('a')).toBeUndefined();
      opened.store.close();
    }
  });

  it('keeps one row per key when a key is written again, in one batch or across batches, and lists keys in key order', () => {
    const store = StateStore.create(dir, identity, 0, { decode });
    store.apply([{ key: 'b', value: bytes(1), foldVersion: 3 }, { key: 'a', value: bytes(2), foldVersion: 3 }, { key: 'b', value: bytes(3), foldVersion: 3 }], 3);
    store.apply([{ key: 'a', value: bytes(4), foldVersion: 3 }, { key: 'c', value: bytes(5), foldVersion: 3 }, { key: 'c', value: null, foldVersion: 3 }], 6);
    expect(store.size()).toBe(2);
    expect([...store.entries()].map((e) => [e.key, decode(e.value).n])).toEqual([['a', 4], ['b', 3]]);
    store.close();
  });

  it('finds a store whose file is not a database damaged, and rebuilds it empty', () => {
    const store = StateStore.create(dir, identity, 0, { decode });
    store.apply([{ key: 'a', value: bytes(1), foldVersion: 3 }], 1);
    store.close();
    writeFileSync(join(dir, STORE_FILE), Buffer.alloc(8192, 0x5a));
    expect(inspectStore(dir)).toMatchObject({ kind: 'damaged' });
    const opened = openStore(dir, identity, { low: 0, high: 50 }, { decode });
    expect(opened).toMatchObject({ kind: 'ready', rebuilt: { reason: 'damaged' } });
    if (opened.kind === 'ready') {
      expect(opened.store.reflectsOffset()).toBe(0);
      expect(opened.store.getEntry('a')).toBeUndefined();
      opened.store.close();
    }
  });

  it('finds pages overwritten inside a store damaged when checked', () => {
    const store = StateStore.create(dir, identity, 0, { decode });
    for (let b = 0; b < 20; b += 1) store.apply(Array.from({ length: 100 }, (_, i) => ({ key: `k${b}-${i}`, value: bytes(i), foldVersion: 3 })), b + 1);
    store.close();
    const file = join(dir, STORE_FILE);
    const fd = openSync(file, 'r+');
    // Overwrite from the third page on, keeping the header and the first pages (schema, meta).
    writeSync(fd, Buffer.alloc(statSync(file).size - 3 * 4096, 0xa5), 0, undefined, 3 * 4096);
    closeSync(fd);
    expect(inspectStore(dir, true)).toMatchObject({ kind: 'damaged' });
    expect(() => {
      const damaged = StateStore.open(dir, identity, { decode });
      try {
        for (let b = 0; b < 20; b += 1) damaged.getEntry(`k${b}-50`);
      } finally {
        damaged.close();
      }
    }).toThrow(StoreDamagedError);
  });
});
