// A partition task's state on disk: the latest value of every key of one
// changelog partition, the changelog offset those values reflect, and the
// fold version of each value, in one SQLite file (better-sqlite3; why SQLite:
// docs/state-stores.md "Choosing the store"). Writes are synchronous and
// atomic: the values of a batch and the offset after it commit together or
// not at all. Only the most recently used states are kept decoded in memory.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Change, RestoreTarget } from './changelog-restore';
import { Lru } from './lru';
import { STORE_FORMAT, type StoreIdentity, type StoreMeta } from './restore-plan';

export const STORE_FILE = 'state.db';

/**
 * Keys by label, so that counting states (`size`, `labelCounts`) reads this
 * small index instead of every row of the table: its rows hold the values, so
 * counting a million 1.6 KB states read ~1.6 GB (seconds on every open).
 */
const LABEL_INDEX = 'CREATE INDEX IF NOT EXISTS state_label ON state (label)';

/** The store file is unreadable or inconsistent: delete it and rebuild from the changelog. */
export class StoreDamagedError extends Error {
  override readonly name = 'StoreDamagedError';
}

export type StateLookup<S> =
  | { readonly kind: 'found'; readonly state: S }
  | { readonly kind: 'absent' }
  /** Folded by another fold version: must not be decided on (rebuild it from the events). */
  | { readonly kind: 'stale'; readonly foldVersion: number };

export interface StateStoreOptions<S> {
  /** Decodes stored bytes (e.g. an Avro snapshot) into the state the fold works on. */
  readonly decode: (bytes: Buffer, key: string) => S;
  /** How many decoded states stay in memory (default 500). */
  readonly decodedCapacity?: number;
}

const SQLITE_DAMAGE = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CORRUPT_INDEX', 'SQLITE_CORRUPT_SEQUENCE', 'SQLITE_CORRUPT_VTAB', 'SQLITE_IOERR_SHORT_READ']);

/** Another connection (another process, or a store left open) holds the store: never rebuild it from under its owner. */
export class StoreInUseError extends Error {
  override readonly name = 'StoreInUseError';
}

/** Turns SQLite's "the file is damaged" errors into StoreDamagedError and "locked" into StoreInUseError; others pass through. */
export function asDamage(error: unknown, what: string): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && SQLITE_DAMAGE.has(code)) return new StoreDamagedError(`${what}: ${code}`, { cause: error });
  if (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) return new StoreInUseError(`${what}: the store is open elsewhere`, { cause: error });
  return error;
}

/** The statements that write a store's rows and offset (also run by a restore's writer thread, store-writer.ts). */
export const WRITE_SQL = {
  put: 'INSERT INTO state (key, value, fold_version, label, due, trace) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, fold_version = excluded.fold_version, label = excluded.label, due = excluded.due, trace = excluded.trace',
  remove: 'DELETE FROM state WHERE key = ?',
  setOffset: 'UPDATE meta SET offset = ?',
} as const;

interface Row {
  readonly value: Buffer;
  readonly fold_version: number;
}

interface MetaRow {
  readonly format: number;
  readonly topic: string;
  readonly partition: number;
  readonly epoch: string;
  readonly fold_version: number;
  readonly offset: number;
}

function openDatabase(dir: string, mode: 'inspect' | 'own' | 'create'): Database.Database {
  if (mode === 'create') mkdirSync(dir, { recursive: true });
  const db = new Database(join(dir, STORE_FILE), { fileMustExist: mode !== 'create', timeout: 0 });
  try {
    // The owner holds the file locked until it closes: a second process (a
    // zombie, a misconfigured twin) gets StoreInUseError instead of writing
    // the same store (docs/state-stores.md "Safety", point 5).
    if (mode !== 'inspect') db.pragma('locking_mode = EXCLUSIVE');
    // WAL + synchronous=NORMAL: a committed write survives a crash of the
    // process; after a power loss the store may be behind but is consistent
    // (docs/state-stores.md "Safety").
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // Take the lock now rather than at the first write.
    if (mode !== 'inspect') db.exec('BEGIN IMMEDIATE; COMMIT');
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/** Reads a store's meta record without keeping it open: undefined when there is no store. */
export function readStoreMeta(dir: string, options: { readonly check?: boolean } = {}): StoreMeta | undefined {
  if (!existsSync(join(dir, STORE_FILE))) return undefined;
  let db: Database.Database;
  try {
    db = openDatabase(dir, 'inspect');
  } catch (error) {
    throw asDamage(error, `opening ${dir}`);
  }
  try {
    if (options.check) {
      const [result] = db.pragma('quick_check(1)') as Array<{ quick_check: string }>;
      if (result?.quick_check !== 'ok') throw new StoreDamagedError(`quick_check of ${dir}: ${result?.quick_check ?? 'no answer'}`);
    }
    const row = db.prepare<[], MetaRow>('SELECT format, topic, partition, epoch, fold_version, offset FROM meta').get();
    if (!row) throw new StoreDamagedError(`${dir} has no meta record`);
    return { format: row.format, topic: row.topic, partition: row.partition, epoch: row.epoch, foldVersion: row.fold_version, offset: row.offset };
  } catch (error) {
    if (error instanceof StoreDamagedError) throw error;
    const code = (error as { code?: unknown } | null)?.code;
    // A file with no meta table is not a store this code wrote.
    if (code === 'SQLITE_ERROR') throw new StoreDamagedError(`${dir} is not a state store`, { cause: error });
    throw asDamage(error, `reading ${dir}`);
  } finally {
    db.close();
  }
}

export class StateStore<S> implements RestoreTarget {
  private readonly decoded: Lru<string, S>;
  private offset: number;
  private readonly statements: {
    readonly get: Database.Statement<[string], Row>;
    readonly put: Database.Statement<[string, Buffer, number, string | null, string | null, string | null]>;
    readonly remove: Database.Statement<[string]>;
    readonly setOffset: Database.Statement<[number]>;
    readonly count: Database.Statement<[], { readonly n: number }>;
  };
  private readonly applyAll: (changes: readonly Change[], offset: number) => void;

  private constructor(
    private readonly db: Database.Database,
    readonly dir: string,
    readonly identity: StoreIdentity,
    offset: number,
    private readonly options: StateStoreOptions<S>,
  ) {
    this.offset = offset;
    this.decoded = new Lru(options.decodedCapacity ?? 500);
    this.statements = {
      get: db.prepare('SELECT value, fold_version FROM state WHERE key = ?'),
      put: db.prepare(WRITE_SQL.put),
      remove: db.prepare(WRITE_SQL.remove),
      setOffset: db.prepare(WRITE_SQL.setOffset),
      count: db.prepare('SELECT count(*) AS n FROM state'),
    };
    this.applyAll = db.transaction((changes: readonly Change[], next: number) => {
      for (const change of changes) {
        if (change.value === null) this.statements.remove.run(change.key);
        else this.statements.put.run(change.key, change.value, change.foldVersion, change.summary?.label ?? null, change.summary?.due ?? null, change.trace ?? null);
      }
      this.statements.setOffset.run(next);
    });
  }

  /** Creates an empty store reflecting `offset` (deleting whatever is in `dir`). */
  static create<S>(dir: string, identity: StoreIdentity, offset: number, options: StateStoreOptions<S>): StateStore<S> {
    deleteStore(dir);
    const db = openDatabase(dir, 'create');
    try {
      // A rowid table with the key in a unique index, not a WITHOUT ROWID table
      // keyed by it: values (~1.6 KB snapshots) are appended in arrival order and
      // only the small key index takes inserts at random places. Keyed by the
      // key, each insert landed at a random place in a B-tree of the values
      // themselves, far larger than SQLite's page cache, each 1.6 KB row split
      // over an overflow page: a restore from scratch ran at 6,000–7,000 rows/s
      // at a million keys, against ~70,000 this way (docs/state-stores.md
      // "Restore figures").
      db.exec('CREATE TABLE state (key TEXT NOT NULL UNIQUE, value BLOB NOT NULL, fold_version INTEGER NOT NULL, label TEXT, due TEXT, trace TEXT)');
      db.exec('CREATE INDEX state_due ON state (key) WHERE due IS NOT NULL');
      db.exec(LABEL_INDEX);
      db.exec('CREATE TABLE meta (format INTEGER NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, epoch TEXT NOT NULL, fold_version INTEGER NOT NULL, offset INTEGER NOT NULL)');
      db.prepare('INSERT INTO meta VALUES (?, ?, ?, ?, ?, ?)').run(STORE_FORMAT, identity.topic, identity.partition, identity.epoch, identity.foldVersion, offset);
    } catch (error) {
      db.close();
      throw new Error(`creating state store in ${dir}`, { cause: error });
    }
    return new StateStore(db, dir, identity, offset, options);
  }

  /** Opens an existing store whose meta (read by readStoreMeta) matched the identity. */
  static open<S>(dir: string, identity: StoreIdentity, options: StateStoreOptions<S>): StateStore<S> {
    let db: Database.Database;
    try {
      db = openDatabase(dir, 'own');
    } catch (error) {
      throw asDamage(error, `opening ${dir}`);
    }
    try {
      const row = db.prepare<[], { readonly offset: number }>('SELECT offset FROM meta').get();
      if (!row) throw new StoreDamagedError(`${dir} has no meta record`);
      // Stores made before the index get it once (one scan); after that, counting is a scan of the index alone.
      db.exec(LABEL_INDEX);
      return new StateStore(db, dir, identity, row.offset, options);
    } catch (error) {
      db.close();
      throw asDamage(error, `opening ${dir}`);
    }
  }

  /** The store holds every committed changelog record below this offset and nothing at or above it. */
  reflectsOffset(): number {
    return this.offset;
  }

  /** Stored bytes and fold version of a key, undecoded. */
  getEntry(key: string): { readonly value: Buffer; readonly foldVersion: number } | undefined {
    try {
      const row = this.statements.get.get(key);
      return row && { value: row.value, foldVersion: row.fold_version };
    } catch (error) {
      throw asDamage(error, `reading ${key} from ${this.dir}`);
    }
  }

  /** The decoded state of a key (from memory when recently used). */
  get(key: string): StateLookup<S> {
    const cached = this.decoded.get(key);
    if (cached !== undefined) return { kind: 'found', state: cached };
    const entry = this.getEntry(key);
    if (!entry) return { kind: 'absent' };
    if (entry.foldVersion !== this.identity.foldVersion) return { kind: 'stale', foldVersion: entry.foldVersion };
    const state = this.options.decode(entry.value, key);
    this.decoded.set(key, state);
    return { kind: 'found', state };
  }

  /**
   * Applies committed changelog records and records the offset after them, in
   * one SQLite transaction. Call only with records the changelog has committed
   * (docs/state-stores.md "Safety"). `decoded` optionally hands over the new
   * states already decoded, so the next get needs no decode.
   */
  apply(changes: readonly Change[], offset: number, decoded?: ReadonlyMap<string, S>): void {
    if (offset < this.offset) throw new Error(`state store ${this.dir} reflects offset ${this.offset}: refusing to move back to ${offset}`);
    try {
      this.applyAll(changes, offset);
    } catch (error) {
      // The transaction rolled back: nothing of the batch is stored.
      for (const change of changes) this.decoded.delete(change.key);
      throw asDamage(error, `writing to ${this.dir}`);
    }
    this.offset = offset;
    for (const change of changes) {
      const state = decoded?.get(change.key);
      if (state !== undefined && change.value !== null && change.foldVersion === this.identity.foldVersion) this.decoded.set(change.key, state);
      else this.decoded.delete(change.key);
    }
  }

  /** Number of keys stored. */
  size(): number {
    return this.statements.count.get()?.n ?? 0;
  }

  /** How many stored states carry each label (states without one are not counted). */
  labelCounts(): Map<string, number> {
    try {
      const rows = this.db.prepare<[], { readonly label: string; readonly n: number }>('SELECT label, count(*) AS n FROM state WHERE label IS NOT NULL GROUP BY label').all();
      return new Map(rows.map((r) => [r.label, r.n]));
    } catch (error) {
      throw asDamage(error, `counting labels in ${this.dir}`);
    }
  }

  /** Every stored key whose summary has a `due` text, with it and the trace of the step that wrote it (read through a partial index: only those keys). */
  *withDue(): Generator<{ readonly key: string; readonly due: string; readonly trace: string | null }> {
    const rows = this.db.prepare<[], { key: string; due: string; trace: string | null }>('SELECT key, due, trace FROM state INDEXED BY state_due WHERE due IS NOT NULL').iterate();
    for (const row of rows) yield { key: row.key, due: row.due, trace: row.trace };
  }

  /** States decoded in memory now (bounded by decodedCapacity). */
  decodedCount(): number {
    return this.decoded.size;
  }

  /** Every stored key and value, in key order (for verification and tools). */
  *entries(): Generator<{ readonly key: string; readonly value: Buffer; readonly foldVersion: number }> {
    const rows = this.db.prepare<[], { key: string } & Row>('SELECT key, value, fold_version FROM state ORDER BY key').iterate();
    for (const row of rows) yield { key: row.key, value: row.value, foldVersion: row.fold_version };
  }

  close(): void {
    this.decoded.clear();
    if (this.db.open) this.db.close();
  }
}

/** Removes a store's files (a partition revoked for good, or a store to rebuild). */
export function deleteStore(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
