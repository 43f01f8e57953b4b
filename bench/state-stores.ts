// Which embedded store should hold a partition task's state? Compares lmdb,
// classic-level (LevelDB) and better-sqlite3 (SQLite) on the state store's
// workload, each in its own child process (so RSS is its own), beside an
// in-memory Map as the baseline (see docs/state-stores.md "Choosing the store").
//
//   npm run bench:state-stores
//   STATE_BENCH_ENTRIES=200000 STATE_BENCH_GETS=100000 npm run bench:state-stores
//
// Workload: ENTRIES snapshot values (Avro bytes, ~150–360 bytes) keyed by
// aggregate id, written in batches of BATCH where each batch also writes the
// changelog offset it reflects, atomically; close and reopen (time until the
// offset marker is read back); GETS random gets, 90% from a hot set of HOT keys;
// a full scan; disk size; resident memory.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ClassicLevel } from 'classic-level';
import { open as openLmdb } from 'lmdb';
import { snapshotKey, snapshotValue } from './snapshot-values';

const ENTRIES = Number(process.env.STATE_BENCH_ENTRIES ?? 1_000_000);
const BATCH = Number(process.env.STATE_BENCH_BATCH ?? 100);
const GETS = Number(process.env.STATE_BENCH_GETS ?? 300_000);
const HOT = Number(process.env.STATE_BENCH_HOT ?? 10_000);
const STORES = ['map', 'lmdb', 'classic-level', 'better-sqlite3'] as const;
type StoreName = (typeof STORES)[number];

/** The operations the bench times, as each library does them best. */
interface BenchStore {
  writeBatch(entries: ReadonlyArray<readonly [string, Buffer]>, offset: number): void | Promise<void>;
  /** Opens (again) and reads the offset marker back. */
  reopen(): Promise<number | undefined>;
  get(key: string): Buffer | undefined | Promise<Buffer | undefined>;
  scan(): Promise<{ entries: number; bytes: number }>;
  close(): Promise<void>;
}

const OFFSET_KEY = '\u0000offset';

function mapStore(): BenchStore {
  const map = new Map<string, Buffer>();
  let offset: number | undefined;
  return {
    writeBatch(entries, o) {
      for (const [k, v] of entries) map.set(k, v);
      offset = o;
    },
    // An in-memory map has nothing to reopen: a restart re-reads the changelog.
    reopen: async () => offset,
    get: (key) => map.get(key),
    async scan() {
      let entries = 0;
      let bytes = 0;
      for (const v of map.values()) {
        entries += 1;
        bytes += v.length;
      }
      return { entries, bytes };
    },
    close: async () => undefined,
  };
}

function lmdbStore(dir: string): BenchStore {
  const openAll = () => {
    const root = openLmdb({ path: dir, maxDbs: 4 });
    return { root, data: root.openDB<Buffer, string>({ name: 'state', encoding: 'binary' }), meta: root.openDB<number, string>({ name: 'meta', encoding: 'ordered-binary' }) };
  };
  let db = openAll();
  return {
    async writeBatch(entries, offset) {
      await db.root.transaction(() => {
        for (const [k, v] of entries) void db.data.put(k, v);
        void db.meta.put('offset', offset);
      });
    },
    async reopen() {
      await db.root.close();
      db = openAll();
      return db.meta.get('offset');
    },
    get: (key) => db.data.get(key),
    async scan() {
      let entries = 0;
      let bytes = 0;
      for (const { value } of db.data.getRange()) {
        entries += 1;
        bytes += value.length;
      }
      return { entries, bytes };
    },
    close: () => db.root.close(),
  };
}

function levelStore(dir: string): BenchStore {
  const make = () => new ClassicLevel<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
  let db = make();
  const offsetBytes = (o: number) => Buffer.from(String(o));
  return {
    async writeBatch(entries, offset) {
      const ops = entries.map(([key, value]) => ({ type: 'put' as const, key: `s:${key}`, value }));
      ops.push({ type: 'put', key: OFFSET_KEY, value: offsetBytes(offset) });
      await db.batch(ops);
    },
    async reopen() {
      await db.close();
      db = make();
      await db.open();
      const v = await db.get(OFFSET_KEY);
      return v === undefined ? undefined : Number(v.toString());
    },
    get: (key) => db.get(`s:${key}`),
    async scan() {
      let entries = 0;
      let bytes = 0;
      for await (const value of db.values({ gte: 's:', lt: 's;' })) {
        entries += 1;
        bytes += value.length;
      }
      return { entries, bytes };
    },
    close: () => db.close(),
  };
}

function sqliteStore(dir: string): BenchStore {
  const make = () => {
    const db = new Database(join(dir, 'state.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID');
    db.exec('CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)');
    const put = db.prepare('INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)');
    const putMeta = db.prepare("INSERT OR REPLACE INTO meta (name, value) VALUES ('offset', ?)");
    const write = db.transaction((entries: ReadonlyArray<readonly [string, Buffer]>, offset: number) => {
      for (const [k, v] of entries) put.run(k, v);
      putMeta.run(offset);
    });
    return {
      db,
      write,
      get: db.prepare<[string], { value: Buffer }>('SELECT value FROM state WHERE key = ?'),
      offset: db.prepare<[], { value: number }>("SELECT value FROM meta WHERE name = 'offset'"),
      scan: db.prepare<[], { value: Buffer }>('SELECT value FROM state'),
    };
  };
  let s = make();
  return {
    writeBatch: (entries, offset) => void s.write(entries, offset),
    async reopen() {
      s.db.close();
      s = make();
      return s.offset.get()?.value;
    },
    get: (key) => s.get.get(key)?.value,
    async scan() {
      let entries = 0;
      let bytes = 0;
      for (const { value } of s.scan.iterate()) {
        entries += 1;
        bytes += value.length;
      }
      return { entries, bytes };
    },
    close: async () => void s.db.close(),
  };
}

function diskBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const st = statSync(join(dir, name));
    total += st.isDirectory() ? diskBytes(join(dir, name)) : st.blocks * 512;
  }
  return total;
}

const rssMb = () => process.memoryUsage().rss / 1024 / 1024;
const since = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

/** Runs one store's workload in this process and prints one JSON line. */
async function runOne(name: StoreName): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `state-bench-${name}-`));
  try {
    const store = name === 'map' ? mapStore() : name === 'lmdb' ? lmdbStore(dir) : name === 'classic-level' ? levelStore(dir) : sqliteStore(dir);
    const rssBefore = rssMb();
    // Only the store's own calls are timed, not making the values.
    let writeNs = 0n;
    let valueBytes = 0;
    for (let start = 0; start < ENTRIES; start += BATCH) {
      const entries: Array<readonly [string, Buffer]> = [];
      for (let i = start; i < Math.min(start + BATCH, ENTRIES); i += 1) {
        const value = snapshotValue(i);
        valueBytes += value.length;
        entries.push([snapshotKey(i), value]);
      }
      const w0 = process.hrtime.bigint();
      await store.writeBatch(entries, start + entries.length);
      writeNs += process.hrtime.bigint() - w0;
    }
    const writeMs = Number(writeNs) / 1e6;
    const rssAfterWrite = rssMb();

    let t0 = process.hrtime.bigint();
    const offset = await store.reopen();
    const reopenMs = since(t0);
    if (offset !== ENTRIES) throw new Error(`${name}: offset marker ${offset} after reopen, expected ${ENTRIES}`);

    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    t0 = process.hrtime.bigint();
    let found = 0;
    for (let g = 0; g < GETS; g += 1) {
      const i = random() < 0.9 ? Math.floor(random() * Math.min(HOT, ENTRIES)) : Math.floor(random() * ENTRIES);
      // Synchronous stores are not awaited: an await costs more than a Map get.
      const got = store.get(snapshotKey(i));
      if ((got instanceof Promise ? await got : got) !== undefined) found += 1;
    }
    const getMs = since(t0);
    if (found !== GETS) throw new Error(`${name}: ${GETS - found} gets missed`);

    t0 = process.hrtime.bigint();
    const scanned = await store.scan();
    const scanMs = since(t0);
    if (scanned.entries !== ENTRIES || scanned.bytes !== valueBytes) throw new Error(`${name}: scan saw ${scanned.entries} entries / ${scanned.bytes} bytes`);
    const rssEnd = rssMb();
    await store.close();
    const disk = name === 'map' ? valueBytes : diskBytes(dir);
    process.stdout.write(`${JSON.stringify({ name, writeMs, reopenMs, getMs, scanMs, disk, valueBytes, rssBefore, rssAfterWrite, rssEnd })}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Result = { name: StoreName; writeMs: number; reopenMs: number; getMs: number; scanMs: number; disk: number; valueBytes: number; rssBefore: number; rssAfterWrite: number; rssEnd: number };

function runChild(name: StoreName): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, __filename, name], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${name} bench exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as Result);
      } catch (error) {
        reject(new Error(`${name} bench printed no result`, { cause: error }));
      }
    });
  });
}

async function main(): Promise<void> {
  const only = process.argv[2] as StoreName | undefined;
  if (only) return runOne(only);
  const node = execFileSync(process.execPath, ['--version']).toString().trim();
  console.log(`state-store bench: ${ENTRIES.toLocaleString('en')} entries, batches of ${BATCH} + offset marker, ${GETS.toLocaleString('en')} gets (90% within ${HOT.toLocaleString('en')} hot keys), node ${node}`);
  const results: Result[] = [];
  for (const name of STORES) {
    const t0 = process.hrtime.bigint();
    results.push(await runChild(name));
    console.log(`  ${name} done in ${(since(t0) / 1000).toFixed(1)} s`);
  }
  const base = results[0] as Result;
  const ratio = (v: number, b: number) => (b > 0 ? `${(v / b).toFixed(1)}×` : '-');
  const row = (cells: string[]) => console.log(cells.map((c, i) => (i === 0 ? c.padEnd(16) : c.padStart(22))).join(''));
  row(['', 'write k/s', 'reopen ms', 'get k/s', 'scan k/s', 'disk MB', 'RSS after write MB', 'RSS end MB']);
  for (const r of results) {
    const w = ENTRIES / r.writeMs;
    const g = GETS / r.getMs;
    const s = ENTRIES / r.scanMs;
    row([
      r.name,
      `${w.toFixed(0)} (${ratio(base.writeMs, r.writeMs)})`,
      r.name === 'map' ? 'n/a' : r.reopenMs.toFixed(1),
      `${g.toFixed(0)} (${ratio(base.getMs, r.getMs)})`,
      `${s.toFixed(0)} (${ratio(base.scanMs, r.scanMs)})`,
      `${(r.disk / 1e6).toFixed(0)} (${ratio(r.disk, r.valueBytes)} of values)`,
      `${r.rssAfterWrite.toFixed(0)} (${ratio(r.rssAfterWrite, base.rssAfterWrite)})`,
      `${r.rssEnd.toFixed(0)} (${ratio(r.rssEnd, base.rssEnd)})`,
    ]);
  }
  console.log(`Load average (1 min) at the end: ${loadavg()[0]?.toFixed(1)} on a machine with its own cores shared; compare ratios, not absolute figures, across runs.`);
  console.log('Ratios: throughput as a fraction of the Map\'s speed (1.0× = as fast); disk against the raw value bytes; RSS against the Map process.');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
