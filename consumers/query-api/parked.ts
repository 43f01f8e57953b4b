// What the query API says about parked aggregates (docs/read-side.md#parked-aggregates):
//
//   GET /parked          every read model's parked aggregates (in the keyspace serving it)
//   GET /orders/:id      the order document gains `parked` while the order is parked
//
// Kept apart from app.ts so the routes can be moved behind the admin check as a
// whole. The error text of a dead letter is not shown here (it may name
// internals); `npm run dlq -- show` has it.
import type { Request, Response } from 'express';
import type Redis from 'ioredis';
import { parseChain, parseParked, type ParkedAggregate } from '../projections/runtime/parking';
import { servingKeyspace } from '../projections/runtime/serving';
import { parkedChainKey, parkedKey, READ_MODELS, type ReadModelName } from '../projections/shared/keys';

/** A parked aggregate as the API shows it. */
export interface ParkedView {
  readonly aggregateId: string;
  readonly reason: string;
  /** The dead-lettered event the aggregate is parked behind: the read model stops just before its version. */
  readonly head: ParkedAggregate['head'];
  /** When it was parked, ISO 8601. */
  readonly parkedAt: string;
}

const view = (p: ParkedAggregate): ParkedView => ({ aggregateId: p.aggregateId, reason: p.reason, head: p.head, parkedAt: new Date(p.parkedAt).toISOString() });

/** The aggregate's parked state in `model` (in `keyspace`), or null when it is not parked. */
export async function parkedOf(redis: Redis, keyspace: string, model: ReadModelName, aggregateId: string): Promise<ParkedView | null> {
  const json = await redis.hget(parkedKey(keyspace, model), aggregateId);
  const [parked] = json === null ? [] : parseParked({ [aggregateId]: json });
  return parked === undefined ? null : view(parked);
}

/** GET /parked: per read model, its serving keyspace and parked aggregates with how many events each has parked. */
export function parkedListing(redis: Redis, base: string) {
  return async (_req: Request, res: Response): Promise<void> => {
    const readModels: Record<string, { keyspace: string; aggregates: (ParkedView & { parkedEvents: number })[] }> = {};
    for (const model of READ_MODELS) {
      const keyspace = await servingKeyspace(redis, base, model);
      const parked = parseParked(await redis.hgetall(parkedKey(keyspace, model)));
      const counts = await Promise.all(parked.map((p) => redis.hgetall(parkedChainKey(keyspace, model, p.aggregateId)).then((h) => parseChain(h).length)));
      readModels[model] = { keyspace, aggregates: parked.map((p, i) => ({ ...view(p), parkedEvents: counts[i] ?? 0 })) };
    }
    res.json({ readModels });
  };
}
