// Per-principal request limits (429 + Retry-After), with rate-limiter-flexible's
// in-memory limiter: the limit holds per process, so N gateway processes admit
// up to N times it (docs/security.md, "Rate limits").
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export type LimitResult = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

export interface RequestLimiter {
  /** Counts one request for `key`; refuses it once the key has used up its window. */
  consume(key: string): Promise<LimitResult>;
  /** Whether `key` has used up its window, without counting anything. */
  exhausted(key: string): Promise<LimitResult>;
}

export const unlimited: RequestLimiter = { consume: async () => ({ ok: true }), exhausted: async () => ({ ok: true }) };

const retryAfter = (res: RateLimiterRes): number => Math.max(1, Math.ceil(res.msBeforeNext / 1000));

/** `requests` per `windowSeconds` for each key; 0 requests means no limit. */
export function requestLimiter(requests: number, windowSeconds: number): RequestLimiter {
  if (requests === 0) return unlimited;
  const limiter = new RateLimiterMemory({ points: requests, duration: windowSeconds });
  return {
    async consume(key) {
      try {
        await limiter.consume(key);
        return { ok: true };
      } catch (error) {
        if (error instanceof RateLimiterRes) return { ok: false, retryAfterSeconds: retryAfter(error) };
        throw new Error('the rate limiter failed', { cause: error });
      }
    },
    async exhausted(key) {
      const res = await limiter.get(key);
      return res !== null && res.consumedPoints >= requests ? { ok: false, retryAfterSeconds: retryAfter(res) } : { ok: true };
    },
  };
}
