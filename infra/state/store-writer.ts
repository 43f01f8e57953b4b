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

type FromWorker =
  | { readonly kind: 'ready' }
  | { readonly kind: 'applied'; readonly offset: number; readonly writeNs: number }
  | { readonly kind: 'failed'; readonly offset?: number; readonly error: { readonly message: string; readonly code?: string; readonly stack?: string } };

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

export class StoreWriter implements RestoreTarget {
  private offset: number;
  private readonly inFlight: number[] = [];
  private failed: unknown;
  private waiters: Array<() => void> = [];
  private exited = false;
  private readonly exit: Promise<void>;
  private stats = { batches: 0, packNs: 0, writeNs: 0, waitNs: 0 };

  private constructor(
    private readonly worker: Worker,
    readonly dir: string,
    offset: number,
    private readonly maxInFlight: number,
  ) {
    this.offset = offset;
    this.exit = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (message: FromWorker) => this.received(message));
    worker.on('error', (error) => this.fail(new Error(`the store writer of ${dir} stopped`, { cause: error })));
    worker.once('exit', (code) => {
      this.exited = true;
      if (this.inFlight.length > 0) this.fail(new Error(`the store writer of ${dir} exited (code ${code}) with ${this.inFlight.length} batch(es) not written`));
      this.wake();
    });
  }

  /** Starts a worker that owns the store file in `dir` (no other connection may hold it) and reflects `offset`. */
  static async start(dir: string, offset: number, maxInFlight = STORE_WRITER_IN_FLIGHT): Promise<StoreWriter> {
    // No execArgv: the script is plain CommonJS, and the parent's (e.g. `--import tsx`) would load a TypeScript loader into every worker (hundreds of ms).
    const worker = new Worker(workerScript(), { workerData: { file: join(dir, STORE_FILE), sql: WRITE_SQL }, execArgv: [] });
    const opened = await new Promise<unknown>((resolve) => {
      worker.once('message', (message: FromWorker) => resolve(message.kind === 'failed' ? asDamage(revived(message.error), `opening ${dir} in the store writer`) : undefined));
      worker.once('error', (error) => resolve(new Error(`the store writer of ${dir} did not start`, { cause: error })));
    });
    if (opened !== undefined) {
      await worker.terminate();
      throw opened;
    }
    return new StoreWriter(worker, dir, offset, maxInFlight);
  }

  /** The offset after the last batch the worker has committed. */
  reflectsOffset(): number {
    return this.offset;
  }

  async apply(changes: readonly Change[], offset: number): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    if (this.exited) throw new Error(`the store writer of ${this.dir} has stopped`);
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
      offset,
      keys: changes.map((c) => c.key),
      lengths,
      bytes,
      foldVersions: changes.map((c) => c.foldVersion),
      labels: changes.map((c) => c.summary?.label ?? null),
      dues: changes.map((c) => c.summary?.due ?? null),
      traces: changes.map((c) => c.trace ?? null),
    };
    this.worker.postMessage(batch, [bytes.buffer, lengths.buffer]);
    this.inFlight.push(offset);
    this.stats.packNs += Number(process.hrtime.bigint() - started);
    await this.drain(this.maxInFlight - 1);
  }

  /** Waits until every batch handed over is written; rejects with the first failure. */
  async flush(): Promise<void> {
    await this.drain(0);
  }

  /** Flushes what is in flight (as far as it goes), then closes the worker's connection and ends it. Never rejects. */
  async close(): Promise<void> {
    await this.drain(0).catch(() => undefined);
    if (!this.exited) this.worker.postMessage({ kind: 'close' });
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([this.exit.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), 10_000)))]);
    clearTimeout(timer);
    // A worker that does not end is stopped: its open transaction, if any, rolls back (the store keeps its prefix).
    if (!ended) await this.worker.terminate();
  }

  writerStats(): StoreWriterStats {
    const ms = (ns: number): number => ns / 1e6;
    return { batches: this.stats.batches, packMs: ms(this.stats.packNs), writeMs: ms(this.stats.writeNs), waitMs: ms(this.stats.waitNs) };
  }

  private async drain(atMost: number): Promise<void> {
    const started = process.hrtime.bigint();
    while (this.inFlight.length > atMost && this.failed === undefined && !this.exited) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.stats.waitNs += Number(process.hrtime.bigint() - started);
    if (this.failed !== undefined) throw this.failed;
    if (this.inFlight.length > atMost) throw new Error(`the store writer of ${this.dir} exited with ${this.inFlight.length} batch(es) not written`);
  }

  private received(message: FromWorker): void {
    if (message.kind === 'applied') {
      this.inFlight.shift();
      this.offset = message.offset;
      this.stats.batches += 1;
      this.stats.writeNs += message.writeNs;
    } else if (message.kind === 'failed') {
      const at = message.offset === undefined ? '' : ` (the batch up to offset ${message.offset}; the store reflects ${this.offset})`;
      // Damage stays recognizable one level down (open-store.ts rebuilds on it).
      this.fail(asDamage(revived(message.error, `writing to ${this.dir} in the store writer${at}: `), `writing to ${this.dir}${at}`));
    }
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  private fail(error: unknown): void {
    this.failed ??= error;
    this.wake();
  }
}
