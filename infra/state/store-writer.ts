// The store side of a restore with its writes on a worker thread
// (store-writer.cjs; docs/state-stores.md "Store writes in a worker thread"):
// apply() packs a batch's values into one buffer of its own, hands it over
// (transferred, not copied again) and returns while the worker writes it, so
// kafkajs's next fetch and decode run meanwhile on the other core. At most
// `maxInFlight` batches are handed over and not yet written; past that apply()
// waits. reflectsOffset() is what the worker has committed; a failed batch
// fails every later apply() and flush(), and nothing past it is written.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Change, RestoreTarget } from './changelog-restore';
import { asDamage, STORE_FILE, WRITE_SQL } from './state-store';

/** Batches handed to the worker and not yet written, by default. */
export const STORE_WRITER_IN_FLIGHT = 2;

/** What the writer spent, for benchmarks: packing on the reading thread, writing on the worker, waiting for it (back-pressure). */
export interface StoreWriterStats {
  readonly batches: number;
  readonly packMs: number;
  readonly writeMs: number;
  readonly waitMs: number;
}

/** `shared`: one writer thread for every store this process restores at once; `own`: a thread per store. */
export type WriterThreads = 'shared' | 'own';

type FromWorker =
  | { readonly kind: 'opened' | 'closed'; readonly id: number }
  | { readonly kind: 'applied'; readonly id: number; readonly offset: number; readonly writeNs: number }
  | { readonly kind: 'failed'; readonly id: number; readonly offset?: number; readonly error: { readonly message: string; readonly code?: string; readonly stack?: string } };

type Event = FromWorker | { readonly kind: 'stopped'; readonly error: unknown };

/** The worker's script: beside this module both in the sources (tsx, jest) and in dist/ (the build copies it). */
function workerScript(): string {
  const script = join(__dirname, 'store-writer.cjs');
  if (!existsSync(script)) throw new Error(`the store writer's script ${script} is missing (npm run build copies it into dist/)`);
  return script;
}

/** An error reported by the worker, with SQLite's code kept, so that damage is recognized (asDamage). */
function revived(error: { readonly message: string; readonly code?: string; readonly stack?: string }, context = ''): Error & { code?: string } {
  const revivedError: Error & { code?: string } = new Error(`${context}${error.message}`);
  if (error.code !== undefined) revivedError.code = error.code;
  if (error.stack !== undefined) revivedError.stack = error.stack;
  return revivedError;
}

/** A worker thread writing one or more stores; it ends when its last store is closed. */
class WriterThread {
  private readonly worker: Worker;
  private readonly stores = new Map<number, (event: Event) => void>();
  private nextId = 1;
  private stopped: unknown;

  constructor(private readonly onIdle: (thread: WriterThread) => void) {
    // No execArgv: the script is plain CommonJS, and the parent's (e.g. `--import tsx`) would load a TypeScript loader into every worker (hundreds of ms).
    this.worker = new Worker(workerScript(), { workerData: { sql: WRITE_SQL }, execArgv: [] });
    this.worker.on('message', (message: FromWorker) => this.stores.get(message.id)?.(message));
    this.worker.on('error', (error) => this.stop(new Error('the store writer thread stopped', { cause: error })));
    this.worker.once('exit', (code) => this.stop(new Error(`the store writer thread exited (code ${code})`)));
  }

  /** Opens the store file on the thread: `events` gets its replies. */
  add(file: string, events: (event: Event) => void): number {
    const id = this.nextId++;
    this.stores.set(id, events);
    const stopped = this.stopped;
    if (stopped !== undefined) queueMicrotask(() => events({ kind: 'stopped', error: stopped }));
    else this.worker.postMessage({ kind: 'open', id, file });
    return id;
  }

  post(message: { readonly kind: string; readonly id: number }, transfer: ArrayBuffer[] = []): void {
    if (this.stopped === undefined) this.worker.postMessage(message, transfer);
  }

  /** The store is closed on the thread (or the thread is gone): the thread ends with its last store. */
  remove(id: number): void {
    this.stores.delete(id);
    if (this.stores.size > 0) return;
    this.onIdle(this);
    void this.worker.terminate();
  }

  private stop(error: unknown): void {
    this.stopped ??= error;
    // Not handed to another store: the next restore starts a thread of its own.
    this.onIdle(this);
    for (const events of this.stores.values()) events({ kind: 'stopped', error: this.stopped });
  }
}

let shared: WriterThread | undefined;

function threadFor(threads: WriterThreads): WriterThread {
  if (threads === 'own') return new WriterThread(() => undefined);
  shared ??= new WriterThread((idle) => {
    if (shared === idle) shared = undefined;
  });
  return shared;
}

export class StoreWriter implements RestoreTarget {
  private offset: number;
  private readonly inFlight: number[] = [];
  private failed: unknown;
  private stopped = false;
  private closed = false;
  private waiters: Array<() => void> = [];
  private stats = { batches: 0, packNs: 0, writeNs: 0, waitNs: 0 };
  private readonly id: number;

  private constructor(
    private readonly thread: WriterThread,
    readonly dir: string,
    offset: number,
    private readonly maxInFlight: number,
    opened: { resolve: () => void; reject: (error: unknown) => void },
  ) {
    this.offset = offset;
    let opening: typeof opened | undefined = opened;
    this.id = thread.add(join(dir, STORE_FILE), (event) => {
      if (opening !== undefined && event.kind !== 'opened' && event.kind !== 'applied') {
        const error = event.kind === 'failed' ? asDamage(revived(event.error, `opening ${dir} in the store writer: `), `opening ${dir}`) : event.kind === 'stopped' ? event.error : undefined;
        opening.reject(error);
        opening = undefined;
        this.closed = true;
        thread.remove(this.id);
        return;
      }
      if (event.kind === 'opened') {
        opening?.resolve();
        opening = undefined;
      } else this.received(event);
    });
  }

  /** Opens the store file in `dir` on a writer thread (no other connection may hold it); the store reflects `offset`. */
  static async start(dir: string, offset: number, options: { readonly maxInFlight?: number; readonly threads?: WriterThreads } = {}): Promise<StoreWriter> {
    let writer: StoreWriter | undefined;
    await new Promise<void>((resolve, reject) => {
      writer = new StoreWriter(threadFor(options.threads ?? 'shared'), dir, offset, options.maxInFlight ?? STORE_WRITER_IN_FLIGHT, { resolve, reject });
    });
    return writer as StoreWriter;
  }

  /** The offset after the last batch the worker has committed. */
  reflectsOffset(): number {
    return this.offset;
  }

  async apply(changes: readonly Change[], offset: number): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    if (this.stopped || this.closed) throw new Error(`the store writer of ${this.dir} has stopped`);
    const started = process.hrtime.bigint();
    const lengths = new Int32Array(changes.length);
    let total = 0;
    changes.forEach((change, i) => {
      lengths[i] = change.value === null ? -1 : change.value.length;
      total += change.value?.length ?? 0;
    });
    // One copy into a buffer of its own: a record's value is a view of kafkajs's whole fetch buffer, which must not be transferred (nor cloned whole).
    const bytes = new Uint8Array(new ArrayBuffer(total));
    let at = 0;
    for (const change of changes) {
      if (change.value === null) continue;
      bytes.set(change.value, at);
      at += change.value.length;
    }
    const batch = {
      kind: 'batch',
      id: this.id,
      offset,
      keys: changes.map((c) => c.key),
      lengths,
      bytes,
      foldVersions: changes.map((c) => c.foldVersion),
      labels: changes.map((c) => c.summary?.label ?? null),
      dues: changes.map((c) => c.summary?.due ?? null),
      traces: changes.map((c) => c.trace ?? null),
    };
    this.thread.post(batch, [bytes.buffer, lengths.buffer]);
    this.inFlight.push(offset);
    this.stats.packNs += Number(process.hrtime.bigint() - started);
    await this.drain(this.maxInFlight - 1);
  }

  /** Waits until every batch handed over is written; rejects with the first failure. */
  async flush(): Promise<void> {
    await this.drain(0);
  }

  /** Waits for what is in flight (as far as it goes), then closes the store's connection on the thread. Never rejects. */
  async close(): Promise<void> {
    await this.drain(0).catch(() => undefined);
    if (this.closed) return;
    this.closed = true;
    if (!this.stopped) {
      this.thread.post({ kind: 'close', id: this.id });
      let waited = false;
      const timer = setTimeout(() => {
        waited = true;
        this.received({ kind: 'stopped', error: new Error('no answer to close') });
      }, 10_000);
      while (!this.stopped && !waited) await new Promise<void>((resolve) => this.waiters.push(resolve));
      clearTimeout(timer);
    }
    // The last store of a thread ends it; an unfinished transaction, if any, rolls back (the store keeps its prefix).
    this.thread.remove(this.id);
  }

  writerStats(): StoreWriterStats {
    const ms = (ns: number): number => ns / 1e6;
    return { batches: this.stats.batches, packMs: ms(this.stats.packNs), writeMs: ms(this.stats.writeNs), waitMs: ms(this.stats.waitNs) };
  }

  private async drain(atMost: number): Promise<void> {
    const started = process.hrtime.bigint();
    while (this.inFlight.length > atMost && this.failed === undefined && !this.stopped) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.stats.waitNs += Number(process.hrtime.bigint() - started);
    if (this.failed !== undefined) throw this.failed;
    if (this.inFlight.length > atMost) throw new Error(`the store writer of ${this.dir} stopped with ${this.inFlight.length} batch(es) not written`);
  }

  private received(event: Event): void {
    if (event.kind === 'applied') {
      this.inFlight.shift();
      this.offset = event.offset;
      this.stats.batches += 1;
      this.stats.writeNs += event.writeNs;
    } else if (event.kind === 'failed') {
      const at = event.offset === undefined ? '' : ` (the batch up to offset ${event.offset}; the store reflects ${this.offset})`;
      // Damage stays recognizable one level down (open-store.ts rebuilds on it).
      this.failed ??= asDamage(revived(event.error, `writing to ${this.dir} in the store writer${at}: `), `writing to ${this.dir}${at}`);
    } else if (event.kind === 'closed') {
      this.stopped = true;
    } else if (event.kind === 'stopped') {
      this.stopped = true;
      if (this.inFlight.length > 0) this.failed ??= new Error(`the store writer of ${this.dir} stopped with ${this.inFlight.length} batch(es) not written`, { cause: event.error });
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
