// Opening a partition's on-disk store stamped with a fold version: what every
// stateful consumer does on assignment (load.ts), whether its states are a
// process manager's or the command processor's aggregates. The store is opened and
// brought to its changelog partition's end by delta (infra/state/open-store.ts);
// states folded by another fold version than this build's refuse the whole
// partition (StaleFoldError), and a store that had to be filled with them is
// deleted again, so the refusal holds at the next start (docs/state-stores.md
// "Fold versions").
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import type { AvroCodec } from '../kafka/codec';
import type { Change } from '../state/changelog-restore';
import { openAndRestore } from '../state/open-store';
import type { StoreIdentity } from '../state/restore-plan';
import { deleteStore, type StateStore } from '../state/state-store';

/** Refusing a whole partition: its states were folded by another fold version. Not retried into success: the operator must rebuild. */
export class StaleFoldError extends Error {
  override readonly name = 'StaleFoldError';
}

/** A stored state whose writer schema this process has not resolved yet: resolve it (async) and decide again. */
export class UnresolvedSchemaError extends Error {
  override readonly name = 'UnresolvedSchemaError';
  constructor(readonly bytes: Buffer) {
    super(`state schema id ${bytes.length >= 5 ? bytes.readInt32BE(1) : '?'} not resolved yet`);
  }
}

/** Records written before fold versions were stamped count as version 1: the folds as they were then. */
export const UNSTAMPED_FOLD_VERSION = 1;

/** The directory of one changelog partition's store below a state directory. */
export const storeDirOf = (stateDir: string, changelog: string, partition: number): string => join(stateDir, `${changelog}-${partition}`);

/** Why a partition is refused: the store on disk was made with another fold, or the changelog holds states of another. */
export type Refusal = { readonly kind: 'store'; readonly message: string; readonly stored: number } | { readonly kind: 'records'; readonly count: number; readonly versions: readonly number[] };

export interface StampedOpen<S> {
  readonly kafka: Kafka;
  /** The store's directory (storeDirOf). */
  readonly dir: string;
  /** The changelog partition, its epoch, and this build's fold version. */
  readonly identity: StoreIdentity;
  /** Decodes stored bytes (synchronously: resolvedDecoder). */
  readonly decode: (bytes: Buffer, key: string) => S;
  readonly decodedCapacity: number;
  /**
   * The store row of a restored changelog record; its fold version is already
   * the record's (unstamped records count as UNSTAMPED_FOLD_VERSION) or, for a
   * key that is not a state, this build's.
   */
  readonly row: (change: Change) => Change | Promise<Change>;
  /** Keys that are not states (e.g. the command processor's checkpoints): never checked for their fold version. Default: every key is a state. */
  readonly isState?: (key: string) => boolean;
  /** The refusal's text. */
  readonly refusal: (why: Refusal) => string;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal | undefined;
  readonly fetchBytes?: number;
  readonly onProgress?: (offset: number) => Promise<void>;
}

export interface StampedStore<S> {
  readonly store: StateStore<S>;
  readonly restore: { readonly from: number; readonly to: number; readonly records: number; readonly ms: number };
  /** Why the store was rebuilt from the whole changelog; undefined when it was restored by delta. */
  readonly rebuilt: string | undefined;
}

/** Opens and restores the store; throws StaleFoldError when it or the changelog holds states of another fold version. */
export async function openStamped<S>(o: StampedOpen<S>): Promise<StampedStore<S>> {
  const current = o.identity.foldVersion;
  const stale = new Map<string, number>();
  const prepare = async (changes: readonly Change[]): Promise<readonly Change[]> => {
    const out: Change[] = [];
    for (const change of changes) {
      const state = o.isState?.(change.key) ?? true;
      const foldVersion = !state ? current : change.foldVersion === 0 ? UNSTAMPED_FOLD_VERSION : change.foldVersion;
      if (state && change.value !== null && foldVersion !== current) stale.set(change.key, foldVersion);
      out.push(await o.row({ ...change, foldVersion }));
    }
    return out;
  };
  let restored: Awaited<ReturnType<typeof openAndRestore<S>>>;
  try {
    restored = await openAndRestore<S>(o.kafka, o.dir, o.identity, {
      decode: o.decode,
      decodedCapacity: o.decodedCapacity,
      prepare,
      signal: o.signal,
      ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }),
      ...(o.fetchBytes === undefined ? {} : { fetchBytes: o.fetchBytes }),
      ...(o.onProgress === undefined ? {} : { onProgress: ({ offset }: { readonly offset: number }) => o.onProgress?.(offset) }),
    });
  } catch (error) {
    // A restore stopped (aborted beside another store's refusal, timed out) after it wrote states of another fold: the
    // next start would read on from its offset and never see them again, so the store is dropped (closed by the restore).
    if (stale.size > 0) deleteStore(o.dir);
    throw error;
  }
  if (restored.kind === 'stale-fold') throw new StaleFoldError(o.refusal({ kind: 'store', message: restored.message, stored: restored.stored }));
  const { store, restore } = restored;
  // Stored states are stamped either by this build's commits or by a restore, so the restore alone can bring stale ones.
  for (const [key, version] of stale) if (store.getEntry(key)?.foldVersion !== version) stale.delete(key);
  if (stale.size > 0) {
    // The store now reflects records that must be read (and refused) again next time: it is dropped, not kept.
    store.close();
    deleteStore(o.dir);
    throw new StaleFoldError(o.refusal({ kind: 'records', count: stale.size, versions: [...new Set(stale.values())].sort((a, b) => a - b) }));
  }
  return { store, restore: { from: restore.from, to: restore.to, records: restore.records, ms: restore.ms }, rebuilt: restored.rebuilt?.reason };
}

/** A store's decoder: synchronous, from the codec's resolved readers (UnresolvedSchemaError when it has none yet); checks the record's type. */
export function resolvedDecoder<S>(codec: AvroCodec, recordName: string, what: string, from: (value: unknown) => S): (bytes: Buffer, key: string) => S {
  return (bytes, key) => {
    const decoded = codec.decodeKnown(bytes);
    if (decoded === undefined) throw new UnresolvedSchemaError(bytes);
    if (decoded.fullName !== recordName) throw new Error(`the stored ${what} of ${key} is a ${decoded.fullName}, not a ${recordName}`);
    return from(decoded.value);
  };
}

/** Runs `read` (which reads stored states), resolving writer schemas it meets that this process has not yet (async), and runs it again. */
export async function resolvingSchemas<T>(codec: AvroCodec, read: () => T | Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof UnresolvedSchemaError) || attempt >= 8) throw error;
      await codec.decode(error.bytes);
    }
  }
}
