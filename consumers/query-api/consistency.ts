// Read-your-writes on the query side: wait (bounded) until a read model's
// Redis checkpoint has passed the positions in a consistency token.
import type Redis from 'ioredis';
import { parseCheckpoint } from '../projections/runtime/redis-batch';
import { checkpointKey, type ReadModelName } from '../projections/shared/keys';
import { positionsBehind, type Position } from '../../schemas/consistency-token';

export interface WaitResult {
  readonly reached: boolean;
  readonly waitedMs: number;
  /** Positions still not reached (empty when reached). */
  readonly behind: readonly Position[];
}

/**
 * Polls the model's checkpoint every `pollMs` until every position on a topic
 * the model reads is passed, or `timeoutMs` runs out. Positions on topics the
 * model does not read are ignored (a menu token asks nothing of the orders model).
 */
export async function waitForPositions(
  redis: Redis,
  keyspace: string,
  model: ReadModelName,
  modelTopics: readonly string[],
  positions: readonly Position[],
  timeoutMs: number,
  pollMs = 20,
): Promise<WaitResult> {
  const relevant = positions.filter((p) => modelTopics.includes(p.topic));
  const started = Date.now();
  if (relevant.length === 0) return { reached: true, waitedMs: 0, behind: [] };
  for (;;) {
    const behind = positionsBehind(relevant, parseCheckpoint(await redis.hgetall(checkpointKey(keyspace, model))));
    const waitedMs = Date.now() - started;
    if (behind.length === 0) return { reached: true, waitedMs, behind };
    if (waitedMs >= timeoutMs) return { reached: false, waitedMs, behind };
    await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, Math.max(1, timeoutMs - waitedMs))));
  }
}
