// How a query answers from a read model (shared by the GET routes and the
// live streams): resolve the keyspace that serves the model, refuse with 503
// `rebuilding` while it is not whole, and wait for a request's consistency
// token (docs/read-side.md, "Read-your-writes").
import type { Request, Response } from 'express';
import type Redis from 'ioredis';
import { nonexistentPosition, parseConsistencyToken } from '../../schemas/consistency-token';
import { READ_MODEL_SPECS } from '../projections/runtime/read-models';
import type { ReadModelName } from '../projections/shared/keys';
import type { CheckpointWatcher } from './consistency';
import { readModelStatus } from './status';

export interface ServingDeps {
  readonly redis: Redis;
  readonly keyspace: string;
  readonly partitionsOf: (topic: string) => number;
  readonly consistencyWaitMs: number;
  readonly checkpoints: CheckpointWatcher;
}

export const error = (res: Response, status: number, code: string, message: string, headers: Record<string, string> = {}): void => {
  res.status(status).set(headers).json({ error: { code, message } });
};

export interface Serving {
  /** The keyspace serving `model` if it is whole; otherwise answers 503 `rebuilding` and returns undefined. */
  whole(res: Response, model: ReadModelName): Promise<string | undefined>;
  /** Answers with `send` only if `model` is still whole now that its reads are done. */
  reply(res: Response, model: ReadModelName, send: () => void): Promise<void>;
  /** Resolves and checks the keyspace of `model` and waits for the request's consistency token there; undefined when it answered already. */
  open(req: Request, res: Response, model: ReadModelName): Promise<string | undefined>;
  /** The keyspace serving `model` when it is whole, else undefined (no answer written). */
  servingIfWhole(model: ReadModelName): Promise<string | undefined>;
}

export function serving(deps: ServingDeps): Serving {
  const status = (model: ReadModelName) => readModelStatus(deps.redis, deps.keyspace, model, READ_MODEL_SPECS[model].topics, deps.partitionsOf);

  const whole = async (res: Response, model: ReadModelName): Promise<string | undefined> => {
    const s = await status(model);
    if (s.state === 'ready') return s.keyspace;
    const { keyspace, unstarted, remaining } = s;
    res.status(503).set('Retry-After', '2').json({
      error: { code: 'rebuilding', message: `the ${model} read model is being rebuilt from the events; its answers would be incomplete, so retry shortly` },
      rebuilding: { keyspace, partitionsNotStarted: unstarted, eventsRemaining: remaining },
    });
    return undefined;
  };

  /** Partitions of `topic`, undefined when the deployment has no such topic (the catalog lookup throws). */
  const partitionCount = (topic: string): number | undefined => {
    try {
      return deps.partitionsOf(topic);
    } catch {
      return undefined;
    }
  };

  return {
    whole,
    async reply(res, model, send) {
      // Redis restarting (and losing the model) between the first check and the reads would otherwise pass an empty model off as whole.
      if ((await whole(res, model)) !== undefined) send();
    },
    async open(req, res, model) {
      const fromQuery = typeof req.query.consistency === 'string' ? req.query.consistency : undefined;
      const token = fromQuery ?? req.get('x-consistency-token');
      const parsed = token === undefined || token === '' ? undefined : parseConsistencyToken(token);
      if (parsed !== undefined && !parsed.ok) {
        error(res, 400, 'invalid_request', parsed.error);
        return undefined;
      }
      // A position that cannot exist would only ever time out into a 503 (retry!): refuse it at once.
      const nonexistent = parsed === undefined ? null : nonexistentPosition(parsed.positions, partitionCount);
      if (nonexistent !== null) {
        error(res, 400, 'invalid_request', nonexistent);
        return undefined;
      }
      const keyspace = await whole(res, model);
      if (keyspace === undefined || parsed === undefined) return keyspace;
      const result = await deps.checkpoints.waitFor(keyspace, model, READ_MODEL_SPECS[model].topics, parsed.positions, deps.consistencyWaitMs);
      res.set('X-Consistency-Waited-Ms', String(result.waitedMs));
      if (result.reached) return keyspace;
      res.status(503).set('Retry-After', '1').json({
        error: { code: 'not_yet_consistent', message: `the ${model} read model has not reached the token's positions within ${deps.consistencyWaitMs} ms; retry shortly` },
        behind: result.behind,
      });
      return undefined;
    },
    async servingIfWhole(model) {
      const s = await status(model);
      return s.state === 'ready' ? s.keyspace : undefined;
    },
  };
}
