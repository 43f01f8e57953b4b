// The one way to wait for a condition (tests, the chaos run): poll it until it holds or a deadline
// passes, then fail naming what it waited for (with the last error as cause).
// A fixed sleep guesses how long a loaded machine needs; a condition knows.

/** Thrown by a check to stop waiting at once: the condition can no longer come true (a child exited, a port is gone). */
export class GiveUp extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GiveUp';
  }
}

/**
 * Polls `check` every `everyMs` until it returns a value (not undefined), and
 * returns that value; fails after `timeoutMs` with what it waited for. A check
 * that throws is tried again (the last error becomes the failure's cause),
 * except a GiveUp, which ends the wait at once.
 */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof GiveUp) throw error;
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(everyMs, Math.max(0, deadline - Date.now()))));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
}
