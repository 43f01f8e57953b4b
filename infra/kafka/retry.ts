// The roles' kafkajs retry settings (docs/recovery.md, docs/chaos.md).
import type { RetryOptions } from 'kafkajs';

/** Between attempts: kafkajs's default backoff grows to 30 s; at most 2 s instead (docs/recovery.md). */
export const CLIENT_RETRY = Object.freeze({ initialRetryTime: 250, maxRetryTime: 2000 });

/**
 * The role consumers' retries (kafkajs's default is 5, 4–6 s with CLIENT_RETRY's
 * backoff): enough to outlast a node's loss, ~18–20 s. A node killed is fenced
 * after 4 s and its leaders move; a lost active controller needs a new one
 * elected first. A consumer whose retries run out crashes, leaves its group
 * and joins again, and its group's partitions move, each move a restore
 * (docs/chaos.md "Issue #16's findings").
 */
export const CONSUMER_RETRY = Object.freeze({ retries: 12 });

/** The least total wait of kafkajs's retries before it gives up (its backoff randomized by ±factor, each wait growing by multiplier). */
export function leastRetryWaitMs({ initialRetryTime = 300, maxRetryTime = 30_000, factor = 0.2, multiplier = 2, retries = 5 }: RetryOptions): number {
  let total = 0;
  let wait = initialRetryTime;
  for (let attempt = 0; attempt < retries; attempt += 1) {
    total += wait;
    wait = Math.min(wait * (1 - factor) * multiplier, maxRetryTime);
  }
  return total;
}
