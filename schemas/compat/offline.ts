// Offline half of the compatibility gate: BACKWARD_TRANSITIVE with avsc's
// resolver. For every named type, the current schema (the reader) must be able
// to read data written with every earlier version of it (the writers): a field
// added without a default, a removed enum symbol when the enum has no default,
// an incompatible type change or a rename without alias all fail here.
import { Type } from 'avsc';
import type { SchemaSet } from '../loader';

export interface SchemaVersion {
  /** Where this version comes from, e.g. a commit id or "registry v3". */
  readonly source: string;
  readonly schemas: SchemaSet;
}

export interface CompatProblem {
  readonly fullName: string;
  /** The earlier version the current schema cannot read. */
  readonly against: string;
  readonly reason: string;
}

export interface OfflineReport {
  readonly problems: readonly CompatProblem[];
  /** Things worth a look that do not fail the build (e.g. a removed type). */
  readonly notes: readonly string[];
  /** How many (type, earlier version) pairs were compared. */
  readonly comparisons: number;
}

/** Null when `reader` can read everything `writer` wrote, else why not. */
export function readerProblem(reader: Type, writer: Type): string | null {
  try {
    reader.createResolver(writer);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function removedSymbols(before: unknown, after: unknown): string | null {
  if (!Array.isArray(before) || !Array.isArray(after)) return null;
  const gone = before.filter((symbol) => !after.includes(symbol));
  return gone.length === 0 ? null : `enum symbols removed: ${gone.join(', ')} (old data would silently read as the default; deprecate instead)`;
}

/** Checks `current` against each earlier version; identical versions are compared once. */
export function checkBackwardTransitive(current: SchemaSet, history: readonly SchemaVersion[]): OfflineReport {
  const problems: CompatProblem[] = [];
  const notes: string[] = [];
  const compared = new Set<string>();
  const removed = new Set<string>();
  let comparisons = 0;

  for (const version of history) {
    for (const old of version.schemas.all) {
      const now = current.byName.get(old.fullName);
      if (now === undefined) {
        if (!removed.has(old.fullName)) notes.push(`${old.fullName} existed in ${version.source} but is gone: old data of this type can no longer be decoded by name`);
        removed.add(old.fullName);
        continue;
      }
      const pairKey = `${old.fullName}\u0000${old.schemaText}`;
      if (compared.has(pairKey) || old.schemaText === now.schemaText) continue;
      compared.add(pairKey);
      comparisons += 1;
      const reason = readerProblem(now.type, old.type) ?? removedSymbols(old.raw['symbols'], now.raw['symbols']);
      if (reason !== null) problems.push({ fullName: old.fullName, against: version.source, reason });
    }
  }
  return { problems, notes, comparisons };
}
