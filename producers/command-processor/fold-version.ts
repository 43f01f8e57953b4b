// Fold versions of the command processor's snapshots, and how it refuses
// snapshots folded by another fold version. The processor's
// stores are the stateful runtime's stamped stores (infra/stateful/stamped-store.ts),
// one per snapshot partition under `<STATE_DIR>/<group>`; each snapshot is stamped
// with its aggregate's fold version (`fold-version` header, `foldVersion` in
// aggregates.ts) and a partition folded by another version is refused
// (docs/command-side.md "Fold versions").
import type { AggregateRuntime } from './aggregates';

/** An aggregate's fold version: what its snapshots are stamped with (1 unless declared). */
export const foldVersionOf = (runtime: Pick<AggregateRuntime, 'foldVersion'>): number => runtime.foldVersion ?? 1;

/** What the operator does about snapshots of another fold version (docs/command-side.md "Fold versions"). */
export const rebuildAdvice = (aggregate: string): string =>
  `Stop every command processor, run \`npm run snapshots:rebuild -- ${aggregate}\` (rebuilds the snapshots from the events topic with this build's fold), ` +
  'then start this build with a new STATE_CHANGELOG_EPOCH (docs/command-side.md "Fold versions").';

/** Where and why a partition's snapshots are refused: the stored snapshots of another fold version (`stored`), or `count` snapshots of others (`versions`). */
export type SnapshotsRefusal = { readonly changelog: string; readonly partition: number; readonly foldVersion: number } & (
  | { readonly kind: 'store'; readonly stored: number }
  | { readonly kind: 'records'; readonly count: number; readonly versions: readonly number[] }
);

/** The processor's refusal of a snapshots partition folded by another fold version, with the rebuild advice (the command definition's `foldRefusal`). */
export const snapshotsRefusal = (aggregate: string, why: SnapshotsRefusal): string =>
  `command processor: ${why.kind === 'store' ? 'the stored snapshots' : `${why.count} snapshot(s)`} of ${why.changelog}[${why.partition}] folded by fold version ${why.kind === 'store' ? why.stored : why.versions.join(', ')}, ` +
  `this build's ${aggregate} fold is version ${why.foldVersion}; deciding on them would decide on stale state. ${rebuildAdvice(aggregate)}`;
