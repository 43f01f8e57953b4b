// A small HTTP client for e2e tests and load: JSON in, status + JSON out.
// Every call carries an admin token signed with the stack's local key unless
// the caller sends its own Authorization header.
import { bearer, hasAuthorization } from './auth';

export interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Headers;
}

let adminHeaders: Promise<Record<string, string>> | undefined;
/** The default Authorization of `call`: an admin token (minted once per test file, valid for an hour). */
export const adminAuthorization = (): Promise<Record<string, string>> => (adminHeaders ??= bearer('admin', 'test-admin'));

export async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const sent = hasAuthorization(headers) ? headers : { ...(await adminAuthorization()), ...headers };
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? sent : { 'content-type': 'application/json', ...sent },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    parsed = { raw: text };
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Runs tasks with at most `concurrency` in flight; returns results in task order. */
export async function pool<T>(tasks: ReadonlyArray<() => Promise<T>>, concurrency: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      const task = tasks[i];
      if (task) results[i] = await task();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  return results;
}

/** Deterministic pseudo-random numbers (a 32-bit LCG): tests use fixed seeds, never Math.random. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Routes that create an aggregate: a synchronous success there is 201 with a Location (producers/gateway/routes.ts). */
const CREATING_ROUTES = new Set(['/orders', '/menu/items', '/customers']);

/**
 * The status a test compares for a command whose gateway ran out of reply wait
 * (202) and whose outcome was then read from `GET /commands/:id`: what a
 * synchronous answer would have been (201 on a creating route, else 200), and
 * 409 for any rejection.
 */
export function settledStatus(path: string, outcome: Record<string, unknown>): number {
  if (outcome.status !== 'accepted') return 409;
  return CREATING_ROUTES.has(path) ? 201 : 200;
}
