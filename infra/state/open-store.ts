// Opening a partition task's store on assignment: look at what is on disk,
// decide (restore-plan.ts), then restore the delta or rebuild from the
// changelog (docs/state-stores.md "On assignment").
import { resolve } from 'node:path';
import type { Kafka } from 'kafkajs';
import { changelogOffsets, restoreFromChangelog, type Change, type RestoreOptions, type RestoreResult, type RestoreTarget } from './changelog-restore';
import { planRestore, staleFoldMessage, type ChangelogOffsets, type RebuildReason, type StoreCondition, type StoreIdentity } from './restore-plan';
import { readStoreMeta, StateStore, StoreDamagedError, StoreInUseError, type StateStoreOptions } from './state-store';
import { StoreWriter, type StoreWriterStats, type WriterThreads } from './store-writer';

export type Opened<S> =
  | { readonly kind: 'ready'; readonly store: StateStore<S>; readonly rebuilt?: { readonly reason: RebuildReason; readonly detail: string } }
  | { readonly kind: 'stale-fold'; readonly stored: number; readonly expected: number; readonly message: string };

export interface OpenOptions<S> extends StateStoreOptions<S> {
  /** Run SQLite's quick_check on open (reads every page: 0.3–0.6 s for a million states, docs/state-stores.md "Restore figures"). */
  readonly check?: boolean;
}

export function inspectStore(dir: string, check = false): StoreCondition {
  try {
    const meta = readStoreMeta(dir, { check });
    return meta ? { kind: 'present', meta } : { kind: 'missing' };
  } catch (error) {
    if (error instanceof StoreDamagedError) return { kind: 'damaged', detail: error.message };
    throw error;
  }
}

/** Opens the store in `dir` for this identity, creating it afresh when the plan says rebuild. Does not read Kafka. */
export function openStore<S>(dir: string, identity: StoreIdentity, log: ChangelogOffsets, options: OpenOptions<S>): Opened<S> {
  const plan = planRestore(inspectStore(dir, options.check), identity, log);
  switch (plan.kind) {
    case 'stale-fold':
      return { ...plan, message: staleFoldMessage(identity, plan) };
    case 'rebuild':
      return { kind: 'ready', store: StateStore.create(dir, identity, log.low, options), rebuilt: { reason: plan.reason, detail: plan.detail } };
    case 'restore':
      try {
        return { kind: 'ready', store: StateStore.open(dir, identity, options) };
      } catch (error) {
        if (!(error instanceof StoreDamagedError)) throw error;
        return { kind: 'ready', store: StateStore.create(dir, identity, log.low, options), rebuilt: { reason: 'damaged', detail: error.message } };
      }
  }
}

export type RestoreStoreOptions<S> = OpenOptions<S> &
  Pick<RestoreOptions, 'onProgress' | 'timeoutMs' | 'signal' | 'fetchBytes'> & {
    /** Turns the changelog's records into what the store keeps (e.g. adds each state's summary) before they are applied. */
    readonly prepare?: (changes: readonly Change[]) => Promise<readonly Change[]>;
    /** How long to wait for the directory's previous holder in this process to close it (takeStoreDir). */
    readonly handoverWaitMs?: number;
    /**
     * Where the store writes of the restore run: `inline` on this thread
     * (default; STATE_RESTORE_WRITER when set), `worker` on a worker thread
     * (store-writer.ts). Opt-in: it saved time on one large partition but not
     * on the command processor's six at once (docs/state-stores.md "Store
     * writes in a worker thread").
     */
    readonly writer?: 'worker' | 'inline';
    /** With `worker`: one thread for every store of the process restoring at once (`shared`, default; STATE_RESTORE_WRITER_THREADS when set) or one each (`own`). */
    readonly writerThreads?: WriterThreads;
  };

export type Restored<S> = (Extract<Opened<S>, { kind: 'ready' }> & { readonly restore: RestoreResult & { readonly writer?: StoreWriterStats } }) | Extract<Opened<S>, { kind: 'stale-fold' }>;

/** Per store directory of this process: settles once every store opened (or being opened) there has closed. */
const holders = new Map<string, Promise<void>>();

/**
 * How long an opener waits for the previous holder of the directory in this
 * process to close it (default): a revoked task closes its store once its
 * transaction in flight ends; a holder that keeps the store (a load that won
 * a race) makes the opener fail after this, and its caller retries.
 */
export const STORE_HANDOVER_WAIT_MS = 10_000;

/**
 * Takes the store directory for one holder in this process, once the previous
 * holder (an old task of the same partition, revoked but not yet closed) has
 * released it: two overlapping assignments in one process open the store one
 * after the other instead of the second failing on SQLite's lock ("database is
 * locked", docs/state-stores.md "Safety"). Returns the release, which is
 * idempotent. Throws StoreInUseError when the previous holder has not released
 * it within `waitMs`.
 */
export async function takeStoreDir(dir: string, waitMs = STORE_HANDOVER_WAIT_MS): Promise<() => void> {
  const key = resolve(dir);
  const previous = holders.get(key);
  let settle!: () => void;
  const mine = new Promise<void>((done) => {
    settle = done;
  });
  // The next holder waits for this one, and so (through it) for the previous one.
  const chained = previous === undefined ? mine : previous.then(() => mine);
  holders.set(key, chained);
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    settle();
    if (holders.get(key) === chained) holders.delete(key);
  };
  if (previous !== undefined) {
    let timer: NodeJS.Timeout | undefined;
    const handedOver = await Promise.race([
      previous.then(() => true),
      new Promise<false>((done) => {
        timer = setTimeout(() => done(false), waitMs);
      }),
    ]);
    clearTimeout(timer);
    if (!handedOver) {
      release();
      throw new StoreInUseError(`${dir}: still open by a previous task of this process after ${waitMs} ms`);
    }
  }
  return release;
}

/** The store, whose close also releases the directory to the next holder. */
function releasingOnClose<S>(store: StateStore<S>, release: () => void): StateStore<S> {
  const close = store.close.bind(store);
  store.close = (): void => {
    try {
      close();
    } finally {
      release();
    }
  };
  return store;
}

/**
 * On assignment: open (or rebuild) the store and apply the changelog past the
 * offset it reflects. A store found damaged while restoring is rebuilt once.
 * Opens only once a store of the same directory opened before in this process
 * is closed (takeStoreDir).
 */
export async function openAndRestore<S>(
  kafka: Kafka,
  dir: string,
  identity: StoreIdentity,
  options: RestoreStoreOptions<S>,
): Promise<Restored<S>> {
  const release = await takeStoreDir(dir, options.handoverWaitMs);
  try {
    const restored = await openAndRestoreHeld(kafka, dir, identity, options);
    if (restored.kind === 'stale-fold') release();
    else releasingOnClose(restored.store, release);
    return restored;
  } catch (error) {
    release();
    throw error;
  }
}

function writerFor(options: { readonly writer?: 'worker' | 'inline' }, offsets: number): 'worker' | 'inline' {
  if (offsets <= 0) return 'inline'; // nothing to write
  const chosen = options.writer ?? process.env.STATE_RESTORE_WRITER?.trim();
  if (chosen === 'worker' || chosen === 'inline') return chosen;
  if (chosen !== undefined && chosen !== '') throw new Error(`STATE_RESTORE_WRITER must be worker or inline, not ${chosen}`);
  return 'inline';
}

type RestoredInto<S> = { readonly store: StateStore<S>; readonly restore: RestoreResult & { readonly writer?: StoreWriterStats } };

/**
 * Restores into `store`; with a worker, the store's connection is closed for
 * the restore (the worker's own connection holds the file, locked as the store
 * holds it) and a new one opened after it, which sees what the worker wrote. On
 * failure the store is closed.
 */
async function restoreInto<S>(kafka: Kafka, store: StateStore<S>, to: number, options: RestoreStoreOptions<S>): Promise<RestoredInto<S>> {
  const restoreOptions: RestoreOptions = { ...options, topic: store.identity.topic, partition: store.identity.partition };
  const prepared = (target: RestoreTarget): RestoreTarget => {
    const { prepare } = options;
    if (prepare === undefined) return target;
    return { reflectsOffset: () => target.reflectsOffset(), apply: async (changes, offset) => target.apply(await prepare(changes), offset), flush: async () => target.flush?.() };
  };
  if (writerFor(options, to - store.reflectsOffset()) === 'inline') {
    try {
      return { store, restore: await restoreFromChangelog(kafka, prepared(store), restoreOptions) };
    } catch (error) {
      store.close();
      throw error;
    }
  }
  const { dir, identity } = store;
  const offset = store.reflectsOffset();
  store.close();
  const threads = options.writerThreads ?? (process.env.STATE_RESTORE_WRITER_THREADS?.trim() === 'own' ? 'own' : 'shared');
  const writer = await StoreWriter.start(dir, offset, { threads });
  let restore: RestoreResult;
  try {
    restore = await restoreFromChangelog(kafka, prepared(writer), restoreOptions);
  } finally {
    await writer.close();
  }
  return { store: StateStore.open(dir, identity, options), restore: { ...restore, writer: writer.writerStats() } };
}

async function openAndRestoreHeld<S>(kafka: Kafka, dir: string, identity: StoreIdentity, options: RestoreStoreOptions<S>): Promise<Restored<S>> {
  const log = await changelogOffsets(kafka, identity.topic, identity.partition);
  const opened = openStore(dir, identity, log, options);
  if (opened.kind === 'stale-fold') return opened;
  try {
    return { ...opened, ...(await restoreInto(kafka, opened.store, log.high, options)) };
  } catch (error) {
    const damage = error instanceof StoreDamagedError ? error : error instanceof Error && error.cause instanceof StoreDamagedError ? error.cause : undefined;
    if (!damage) throw error;
    const store = StateStore.create(dir, identity, log.low, options);
    return { kind: 'ready', rebuilt: { reason: 'damaged', detail: damage.message }, ...(await restoreInto(kafka, store, log.high, options)) };
  }
}
