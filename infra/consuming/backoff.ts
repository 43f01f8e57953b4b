// Bounded retries with exponential backoff, shared by the consumer runtime.
export interface RetryPolicy {
  /** Attempts in all, the first included (>= 1). */
  readonly attempts: number;
  /** Delay before the second attempt; doubled each time after. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = Object.freeze({ attempts: 5, initialDelayMs: 100, maxDelayMs: 5_000 });

/** The delay before attempt `n` (2, 3, ...): initial * 2^(n-2), capped. */
export function backoffDelay(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, attempt - 2));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn` until it succeeds or `policy.attempts` are spent; rethrows the last
 * error. `onRetry` sees each failure that will be retried. `shouldRetry` ends
 * the retries early (an error retrying cannot fix, a shutdown in progress).
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  fn: (attempt: number) => Promise<T>,
  onRetry: (error: unknown, attempt: number, delayMs: number) => void = () => undefined,
  shouldRetry: (error: unknown) => boolean = () => true,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= policy.attempts || !shouldRetry(error)) throw error;
      const delay = backoffDelay(policy, attempt + 1);
      onRetry(error, attempt, delay);
      await sleep(delay);
    }
  }
}
