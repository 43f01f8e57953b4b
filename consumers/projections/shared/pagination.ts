// Offset pagination over a sorted set read newest first (ZRANGE ... REV).
// The query asks for limit + 1 members: the extra one tells whether a next
// page exists without a ZCARD.

export const PAGE_DEFAULTS = Object.freeze({ limit: 20, maxLimit: 100, maxOffset: 10_000 });

export interface Page {
  readonly offset: number;
  readonly limit: number;
}

export type PageRequest = { readonly ok: true; readonly page: Page } | { readonly ok: false; readonly error: string };

function parseNonNegativeInt(label: string, raw: unknown, fallback: number): number | string {
  if (raw === undefined) return fallback;
  // `?limit=1&limit=2` arrives as an array: which one was meant is anyone's guess.
  if (Array.isArray(raw)) return `${label} must be given at most once`;
  if (typeof raw !== 'string') return `${label} must be a whole number`;
  // `?limit=` is a client bug (an unset variable), not a request for the default.
  if (raw === '') return `${label} must not be empty; leave it out for the default`;
  if (!/^\d+$/.test(raw)) return `${label} must be a whole number, got "${raw.slice(0, 40)}"`;
  return Number(raw);
}

/**
 * Validates `?offset=&limit=` query parameters as they arrive over HTTP: absent
 * (the default), or one string of digits. Empty or repeated is refused.
 */
export function parsePage(query: { readonly offset?: unknown; readonly limit?: unknown }): PageRequest {
  const offset = parseNonNegativeInt('offset', query.offset, 0);
  if (typeof offset === 'string') return { ok: false, error: offset };
  const limit = parseNonNegativeInt('limit', query.limit, PAGE_DEFAULTS.limit);
  if (typeof limit === 'string') return { ok: false, error: limit };
  if (limit < 1 || limit > PAGE_DEFAULTS.maxLimit) return { ok: false, error: `limit must be between 1 and ${PAGE_DEFAULTS.maxLimit}` };
  if (offset > PAGE_DEFAULTS.maxOffset) return { ok: false, error: `offset must be at most ${PAGE_DEFAULTS.maxOffset}` };
  return { ok: true, page: { offset, limit } };
}

/** Inclusive ZRANGE indexes for a page, one past the limit to detect a next page. */
export function rangeFor(page: Page): { readonly start: number; readonly stop: number } {
  return { start: page.offset, stop: page.offset + page.limit };
}

export interface PageOf<T> {
  readonly items: readonly T[];
  readonly offset: number;
  readonly limit: number;
  /** Offset of the next page, or null on the last page. */
  readonly nextOffset: number | null;
}

/** Cuts the limit + 1 members read with `rangeFor` into a page. */
export function toPage<T>(fetched: readonly T[], page: Page): PageOf<T> {
  const hasMore = fetched.length > page.limit;
  return {
    items: fetched.slice(0, page.limit),
    offset: page.offset,
    limit: page.limit,
    nextOffset: hasMore ? page.offset + page.limit : null,
  };
}
