// The query API: GET-only JSON over the Redis read models (docs/read-side.md).
//
//   GET /menu                              menu by category
//   GET /customers/:id                     profile + addresses (404 when unknown)
//   GET /customers/:id/orders?offset=&limit=   newest first, paginated
//   GET /orders/:id                        details + timeline (404 when unknown)
//   GET /kitchen/queue                     confirmed, not ready, oldest first
//   GET /stats/sales?from=&to=             per-day and total revenue/orders (UTC days, inclusive)
//   GET /stats/items?from=&to=             per-item quantity/revenue over the range
//   GET /parked                            parked aggregates per read model (parked.ts)
//
// Every answer comes from the keyspace that serves the read model (the
// blue/green pointer, resolved once per request) and only when that model is
// whole: while it is being rebuilt (Redis lost its data, a replay, a first
// start) the answer is 503 `rebuilding` with Retry-After, never a partial
// answer that looks true (status.ts). Wholeness is checked before the reads
// and again after them, so a Redis restart in between cannot slip through.
//
// Every request carries a bearer token (docs/security.md); who may read what
// is in access.ts: a role that may never use a route gets 403, and a customer
// asking for someone else's customer or order gets the same 404 as for an
// unknown id.
//
// Read-your-writes: `?consistency=<token>` or `X-Consistency-Token: <token>`
// (from a command reply) makes the query wait, at most `consistencyWaitMs`,
// until the model's checkpoint has passed the token's positions. If it does not
// get there in time the answer is 503 `not_yet_consistent` with Retry-After,
// never silently old data. Answers say how long they waited in
// `X-Consistency-Waited-Ms`.
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type Redis from 'ioredis';
import { forbidden, principalOf } from '../../infra/auth/express';
import type { Logger } from '../../infra/logging';
import { nonexistentPosition, parseConsistencyToken } from '../../schemas/consistency-token';
import { MenuCategorySymbols } from '../../schemas/generated/types';
import { customersKeys } from '../projections/customers/customers.keys';
import { customerView, openCustomerView } from '../projections/customers/customers.query';
import { kitchenKeys } from '../projections/kitchen/kitchen.keys';
import { kitchenQueueView } from '../projections/kitchen/kitchen.query';
import { menuKeys } from '../projections/menu/menu.keys';
import { menuView } from '../projections/menu/menu.query';
import { ordersKeys } from '../projections/orders/orders.keys';
import { customerOrdersPage, openOrderDocument, orderView, type PersonalFieldOpener } from '../projections/orders/orders.query';
import { READ_MODEL_SPECS } from '../projections/runtime/read-models';
import type { ReadModelName } from '../projections/shared/keys';
import { parsePage, rangeFor } from '../projections/shared/pagination';
import { salesKeys } from '../projections/sales/sales.keys';
import { parseSalesRange, salesReport, type SalesBucket, type SalesRange } from '../projections/sales/sales.query';
import { mayRead, seesCustomer, seesOrder, type ReadRoute } from './access';
import type { CheckpointWatcher } from './consistency';
import { parkedListing, parkedOf } from './parked';
import { readModelStatus } from './status';

export interface QueryApiDeps {
  readonly redis: Redis;
  /** The deployment's base keyspace; the serving keyspace of each model is looked up from it. */
  readonly keyspace: string;
  /** Partitions of a topic the read models read (for "has every partition a checkpoint?"). */
  readonly partitionsOf: (topic: string) => number;
  readonly consistencyWaitMs: number;
  /** Wakes queries waiting for a consistency token as the projectors move their checkpoints. */
  readonly checkpoints: CheckpointWatcher;
  readonly clock: () => number;
  readonly logger: Logger;
  /** Authenticates every request (infra/auth/express.ts): answers 401/429 itself, else leaves the principal. */
  readonly authenticate: RequestHandler;
  /** Opens sealed personal fields with the key cache (docs/privacy.md); without it they are shown sealed. */
  readonly personalData?: PersonalFieldOpener;
}

const error = (res: Response, status: number, code: string, message: string, headers: Record<string, string> = {}): void => {
  res.status(status).set(headers).json({ error: { code, message } });
};

type Hash = Record<string, string>;

/** Query parameters the API reads; each may be given at most once (docs/read-side.md, "Hostile input"). */
const SINGLE_PARAMS = ['offset', 'limit', 'from', 'to', 'consistency'] as const;

/** The results of a pipeline, failing on the first error. */
async function run<T>(pipeline: ReturnType<Redis['pipeline']>): Promise<T[]> {
  const results = (await pipeline.exec()) ?? [];
  return results.map(([err, value]) => {
    if (err) throw err;
    return value as T;
  });
}

export function createQueryApp(deps: QueryApiDeps): express.Express {
  const { redis } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  /** The keyspace serving `model` if it is whole; otherwise answers 503 `rebuilding` and returns undefined. */
  const whole = async (res: Response, model: ReadModelName): Promise<string | undefined> => {
    const status = await readModelStatus(redis, deps.keyspace, model, READ_MODEL_SPECS[model].topics, deps.partitionsOf);
    if (status.state === 'ready') return status.keyspace;
    const { keyspace, unstarted, remaining } = status;
    res.status(503).set('Retry-After', '2').json({
      error: { code: 'rebuilding', message: `the ${model} read model is being rebuilt from the events; its answers would be incomplete, so retry shortly` },
      rebuilding: { keyspace, partitionsNotStarted: unstarted, eventsRemaining: remaining },
    });
    return undefined;
  };

  /**
   * Answers with `send` only if `model` is still whole now that its reads are
   * done: Redis restarting (and losing the model) between the first check and
   * the reads would otherwise pass an empty or partial model off as whole.
   */
  const reply = async (res: Response, model: ReadModelName, send: () => void): Promise<void> => {
    if ((await whole(res, model)) !== undefined) send();
  };

  /**
   * Resolves the serving keyspace of `model`, checks it is whole, and waits for
   * the request's consistency token there; undefined when it answered already.
   */
  const open = async (req: Request, res: Response, model: ReadModelName): Promise<string | undefined> => {
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
  };

  /** Partitions of `topic`, undefined when the deployment has no such topic (the catalog lookup throws). */
  const partitionCount = (topic: string): number | undefined => {
    try {
      return deps.partitionsOf(topic);
    } catch {
      return undefined;
    }
  };

  app.use((req: Request, res: Response, next: NextFunction) => {
    const repeated = SINGLE_PARAMS.find((name) => Array.isArray(req.query[name]));
    if (repeated !== undefined) return error(res, 400, 'invalid_request', `${repeated} must be given at most once`);
    next();
  });

  const route = (handler: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: NextFunction) => {
    handler(req, res).catch(next);
  };

  /** 403 for a role that may never use the route. */
  const allow =
    (name: ReadRoute): RequestHandler =>
    (_req, res, next) => {
      if (mayRead(principalOf(res), name)) return next();
      forbidden(res, `this route is not open to ${principalOf(res).roles.join(', ') || 'a token without roles'}`);
    };

  app.use(deps.authenticate);

  app.get(
    '/menu',
    allow('menu'),
    route(async (req, res) => {
      const keyspace = await open(req, res, 'menu');
      if (keyspace === undefined) return;
      const keys = menuKeys(keyspace);
      const sets = await run<string[]>(MenuCategorySymbols.reduce((p, c) => p.smembers(keys.category(c)), redis.pipeline()));
      const ids = [...new Set(sets.flat())].sort();
      const hashes = ids.length === 0 ? [] : await run<Hash>(ids.reduce((p, id) => p.hgetall(keys.item(id)), redis.pipeline()));
      await reply(res, 'menu', () => res.json(menuView(hashes)));
    }),
  );

  app.get(
    '/customers/:id',
    allow('customer'),
    route(async (req, res) => {
      const keyspace = await open(req, res, 'customers');
      if (keyspace === undefined) return;
      const id = req.params.id as string;
      const keys = customersKeys(keyspace);
      const [profile, addresses] = await run<Hash>(redis.pipeline().hgetall(keys.profile(id)).hgetall(keys.addresses(id)));
      // Someone else's profile answers exactly like an unknown one.
      const stored = seesCustomer(principalOf(res), id) ? customerView(profile ?? {}, addresses ?? {}) : null;
      const view = stored === null || deps.personalData === undefined ? stored : openCustomerView(stored, deps.personalData);
      await reply(res, 'customers', () => (view === null ? error(res, 404, 'customer_not_found', `no customer ${id}`) : res.json(view)));
    }),
  );

  app.get(
    '/customers/:id/orders',
    allow('customer'),
    route(async (req, res) => {
      const page = parsePage({ offset: req.query.offset, limit: req.query.limit });
      if (!page.ok) return error(res, 400, 'invalid_request', page.error);
      const keyspace = await open(req, res, 'orders');
      if (keyspace === undefined) return;
      const id = req.params.id as string;
      const keys = ordersKeys(keyspace);
      const { start, stop } = rangeFor(page.page);
      // Someone else's orders answer exactly like an unknown customer's.
      const visible = seesCustomer(principalOf(res), id);
      const ids = visible ? await redis.zrange(keys.byCustomer(id), start, stop, 'REV') : [];
      if (ids.length === 0 && page.page.offset === 0) {
        // No orders: a customer the customers model knows has an empty list; anyone else is unknown.
        const customers = await whole(res, 'customers');
        if (customers === undefined) return;
        const known = visible ? await redis.exists(customersKeys(customers).profile(id)) : 0;
        if (known === 0) return reply(res, 'customers', () => error(res, 404, 'customer_not_found', `no customer ${id} and no orders of theirs`));
      }
      const docs = ids.length === 0 ? [] : await redis.mget(...ids.map((o) => keys.order(o)));
      await reply(res, 'orders', () => res.json(customerOrdersPage(docs, page.page)));
    }),
  );

  app.get(
    '/orders/:id',
    allow('orders'),
    route(async (req, res) => {
      const keyspace = await open(req, res, 'orders');
      if (keyspace === undefined) return;
      const id = req.params.id as string;
      const stored = orderView(await redis.get(ordersKeys(keyspace).order(id)));
      // A customer's view of someone else's order is the same as of an unknown one.
      const seen = stored !== null && seesOrder(principalOf(res), stored.customerId) ? stored : null;
      const view = seen === null || deps.personalData === undefined ? seen : openOrderDocument(seen, deps.personalData);
      const parked = view === null ? null : await parkedOf(redis, keyspace, 'orders', id);
      await reply(res, 'orders', () => (view === null ? error(res, 404, 'order_not_found', `no order ${id}`) : res.json(parked === null ? view : { ...view, parked })));
    }),
  );

  app.get(
    '/kitchen/queue',
    allow('kitchen'),
    route(async (req, res) => {
      const keyspace = await open(req, res, 'kitchen');
      if (keyspace === undefined) return;
      const keys = kitchenKeys(keyspace);
      const flat = await redis.zrange(keys.queue, 0, -1, 'WITHSCORES');
      const entries: { member: string; score: number }[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) entries.push({ member: flat[i] as string, score: Number(flat[i + 1]) });
      const tickets = entries.length === 0 ? [] : await run<Hash>(entries.reduce((p, e) => p.hgetall(keys.ticket(e.member)), redis.pipeline()));
      await reply(res, 'kitchen', () => res.json({ queue: kitchenQueueView(entries, tickets, deps.clock()) }));
    }),
  );

  const salesOver = async (keyspace: string, range: SalesRange): Promise<SalesBucket[]> => {
    const keys = salesKeys(keyspace);
    const hashes = await run<Hash>(range.days.reduce((p, d) => p.hgetall(keys.day(d)).hgetall(keys.items(d)), redis.pipeline()));
    return range.days.map((day, i) => ({ day, totals: hashes[2 * i] ?? {}, items: hashes[2 * i + 1] ?? {} }));
  };

  app.get(
    '/stats/sales',
    allow('stats'),
    route(async (req, res) => {
      const parsed = parseSalesRange(req.query.from as string | undefined, req.query.to as string | undefined);
      if (!parsed.ok) return error(res, 400, 'invalid_request', parsed.error);
      const keyspace = await open(req, res, 'sales');
      if (keyspace === undefined) return;
      const { items: _items, ...totals } = salesReport(parsed.range, await salesOver(keyspace, parsed.range));
      await reply(res, 'sales', () => res.json(totals));
    }),
  );

  app.get(
    '/stats/items',
    allow('stats'),
    route(async (req, res) => {
      const parsed = parseSalesRange(req.query.from as string | undefined, req.query.to as string | undefined);
      if (!parsed.ok) return error(res, 400, 'invalid_request', parsed.error);
      const keyspace = await open(req, res, 'sales');
      if (keyspace === undefined) return;
      const report = salesReport(parsed.range, await salesOver(keyspace, parsed.range));
      await reply(res, 'sales', () => res.json({ from: report.from, to: report.to, items: report.items }));
    }),
  );

  app.get('/parked', allow('parked'), route(parkedListing(redis, deps.keyspace)));

  app.use((_req: Request, res: Response) => error(res, 404, 'not_found', 'no such route'));
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    // The router could not percent-decode a path param: the client's error, not a reason to retry.
    if (err instanceof URIError) return error(res, 400, 'invalid_request', 'the path is not valid percent-encoded UTF-8');
    deps.logger.error({ err, path: req.path }, 'query failed');
    if (res.headersSent) return;
    error(res, 503, 'unavailable', 'the read models could not be read right now; retry shortly', { 'Retry-After': '1' });
  });
  return app;
}
