// Fixed-data helpers for projection tests: build an aggregate's history with
// versions 1..n and fixed timestamps, and fold it through the memory store.
import type { EventMetadata } from '../../schemas/generated/types';
import { MemoryStore } from '../../consumers/projections/shared/memory-store';
import { foldInto, type Envelope, type FoldReport, type Projection } from '../../consumers/projections/shared/projection';

/** 2024-03-10T12:00:00Z: the fixed "now" most tests start from. */
export const T0 = Date.UTC(2024, 2, 10, 12, 0, 0);
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export function metadata(aggregateId: string, version: number, occurredAt: number): EventMetadata {
  const eventId = `${aggregateId}/${version}`;
  return { eventId, aggregateId, version, occurredAt, commandId: `cmd-${eventId}`, correlationId: `corr-${aggregateId}`, causationId: `cmd-${eventId}`, actor: null };
}

/** One aggregate's events, versions 1..n, each at the given instant. */
export function history<E>(aggregateId: string, steps: readonly (readonly [E, number])[], firstVersion = 1): Envelope<E>[] {
  return steps.map(([event, at], i) => ({ event, metadata: metadata(aggregateId, firstVersion + i, at) }));
}

export const KS = 'test';

export function fold<E extends { readonly type: string }, S>(
  projection: Projection<E, S>,
  envelopes: readonly Envelope<E>[],
  store = new MemoryStore(),
): { store: MemoryStore; report: FoldReport } {
  const report = foldInto(store, projection, KS, envelopes);
  return { store, report };
}

/** Interleaves several histories round-robin, keeping each aggregate's own order (as partitions do). */
export function interleave<E>(...histories: readonly (readonly Envelope<E>[])[]): Envelope<E>[] {
  const out: Envelope<E>[] = [];
  const longest = Math.max(0, ...histories.map((h) => h.length));
  for (let i = 0; i < longest; i += 1) {
    for (const h of histories) {
      const e = h[i];
      if (e !== undefined) out.push(e);
    }
  }
  return out;
}
