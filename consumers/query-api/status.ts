// Is a read model whole? The query API asks before every answer, so a model
// that is being rebuilt (after Redis lost its data, a replay, a first start)
// says so instead of answering from a part of the events as if it were all.
//
// Whole means: every partition of every topic the model reads has a
// checkpoint (a projector has taken it on), and no partition is still being
// rebuilt from the start (the rebuild hash is empty). A Redis that lost its
// data has neither, so the answer is "rebuilding" from the first moment, before
// any projector notices.
import type Redis from 'ioredis';
import { parseCheckpoint } from '../projections/runtime/redis-batch';
import { servingKeyspace } from '../projections/runtime/serving';
import { checkpointKey, rebuildKey, type ReadModelName } from '../projections/shared/keys';

export type ModelStatus =
  | { readonly state: 'ready'; readonly keyspace: string; readonly checkpoint: ReadonlyMap<string, ReadonlyMap<number, number>> }
  | {
      readonly state: 'rebuilding';
      readonly keyspace: string;
      /** Partitions no projector has a checkpoint for yet. */
      readonly unstarted: number;
      /** Offsets still to read by the partitions being rebuilt. */
      readonly remaining: number;
    };

export async function readModelStatus(
  redis: Redis,
  base: string,
  model: ReadModelName,
  topics: readonly string[],
  partitionsOf: (topic: string) => number,
): Promise<ModelStatus> {
  const keyspace = await servingKeyspace(redis, base, model);
  const [checkpointHash, rebuildHash] = await Promise.all([redis.hgetall(checkpointKey(keyspace, model)), redis.hgetall(rebuildKey(keyspace, model))]);
  const checkpoint = parseCheckpoint(checkpointHash);
  const targets = parseCheckpoint(rebuildHash);
  let unstarted = 0;
  let remaining = 0;
  for (const topic of topics) {
    const stored = checkpoint.get(topic);
    for (let p = 0; p < partitionsOf(topic); p += 1) if (stored?.get(p) === undefined) unstarted += 1;
    for (const [p, target] of targets.get(topic) ?? []) remaining += Math.max(0, target - (stored?.get(p) ?? 0));
  }
  if (unstarted === 0 && Object.keys(rebuildHash).length === 0) return { state: 'ready', keyspace, checkpoint };
  return { state: 'rebuilding', keyspace, unstarted, remaining };
}
