// What a partition task does with its local store on assignment, decided from
// the store's metadata and the changelog partition's offsets alone (pure). The
// store is a cache of the committed changelog (docs/state-stores.md), so
// whenever it cannot be shown to be a prefix of this changelog it is rebuilt.

/** What the store says about itself (its meta record). */
export interface StoreMeta {
  readonly format: number;
  readonly topic: string;
  readonly partition: number;
  /** Incarnation of the changelog the store was filled from (see StoreIdentity.epoch). */
  readonly epoch: string;
  /** Version of the fold that produced the states in the store. */
  readonly foldVersion: number;
  /** The store reflects every committed changelog record below this offset and none at or above it. */
  readonly offset: number;
}

/** What this build expects of the store. */
export interface StoreIdentity {
  readonly topic: string;
  readonly partition: number;
  /**
   * Changelog incarnation, chosen by the deployment: change it when the
   * changelog topic is deleted and recreated or rebuilt, so every store filled
   * from the old one is rebuilt.
   */
  readonly epoch: string;
  readonly foldVersion: number;
}

/** The changelog partition's offsets now: log start and end (read-committed end = last stable offset). */
export interface ChangelogOffsets {
  readonly low: number;
  readonly high: number;
}

// 2: state rows carry a summary (label, due) for the runtime's counts and deadlines.
// 3: state rows carry the trace context of the step that wrote them (a deadline fires in that trace).
// 4: a rowid table with the key in a unique index instead of a WITHOUT ROWID table keyed by it (restores from scratch ~10× faster).
export const STORE_FORMAT = 4;

export type StoreCondition = { readonly kind: 'missing' } | { readonly kind: 'damaged'; readonly detail: string } | { readonly kind: 'present'; readonly meta: StoreMeta };

export type RebuildReason = 'missing' | 'damaged' | 'format' | 'other-partition' | 'other-epoch' | 'behind-log-start' | 'ahead-of-log';

export type RestorePlan =
  /** Read the changelog from `from` (inclusive) to its end into the store. */
  | { readonly kind: 'restore'; readonly from: number }
  /** Delete the store, then read the changelog from its start. */
  | { readonly kind: 'rebuild'; readonly reason: RebuildReason; readonly detail: string }
  /**
   * The states were folded by another version of the fold: neither the store
   * nor the changelog (written by the same old fold) can be trusted. The
   * runtime rebuilds them from the events topics or refuses to start.
   */
  | { readonly kind: 'stale-fold'; readonly stored: number; readonly expected: number };

export function planRestore(condition: StoreCondition, expected: StoreIdentity, log: ChangelogOffsets): RestorePlan {
  if (condition.kind === 'missing') return { kind: 'rebuild', reason: 'missing', detail: 'no store on disk' };
  if (condition.kind === 'damaged') return { kind: 'rebuild', reason: 'damaged', detail: condition.detail };
  const { meta } = condition;
  if (meta.format !== STORE_FORMAT) return { kind: 'rebuild', reason: 'format', detail: `store format ${meta.format}, this build writes ${STORE_FORMAT}` };
  if (meta.topic !== expected.topic || meta.partition !== expected.partition) {
    return { kind: 'rebuild', reason: 'other-partition', detail: `store holds ${meta.topic}[${meta.partition}], expected ${expected.topic}[${expected.partition}]` };
  }
  if (meta.epoch !== expected.epoch) return { kind: 'rebuild', reason: 'other-epoch', detail: `store from changelog epoch "${meta.epoch}", expected "${expected.epoch}"` };
  if (meta.foldVersion !== expected.foldVersion) return { kind: 'stale-fold', stored: meta.foldVersion, expected: expected.foldVersion };
  // A store that claims more than the log holds was filled from another log
  // (topic recreated, or truncated by unclean leader election): never trust it.
  if (meta.offset > log.high) return { kind: 'rebuild', reason: 'ahead-of-log', detail: `store reflects offset ${meta.offset}, changelog ends at ${log.high}` };
  // Records between the store's offset and the log start are gone (deleted,
  // not compacted: compaction keeps offsets and the latest value of each key).
  if (meta.offset < log.low) return { kind: 'rebuild', reason: 'behind-log-start', detail: `store reflects offset ${meta.offset}, changelog starts at ${log.low}` };
  return { kind: 'restore', from: meta.offset };
}

/** The message a runtime that refuses to start on stale states prints. */
export function staleFoldMessage(identity: StoreIdentity, plan: Extract<RestorePlan, { kind: 'stale-fold' }>): string {
  return (
    `state of ${identity.topic}[${identity.partition}] was folded by fold version ${plan.stored}, this build's fold is version ${plan.expected}: ` +
    'stored states and changelog snapshots would decide on stale state. Rebuild or migrate the states, then start this build with a new STATE_CHANGELOG_EPOCH (docs/state-stores.md "Fold versions").'
  );
}
