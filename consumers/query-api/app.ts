// The query API: GET-only JSON over the Redis read models (docs/read-side.md).
//
//   GET /menu                              menu by category
//   GET /customers/:id                     profile + addresses (404 when unknown)
//   GET /customers/:id/orders?offset=&limit=   newest first, paginated
//   GET /orders/:id                        details + timeline (404 when unknown)
//   GET /kitchen/queue                     confirmed, not ready, oldest first
//   GET /courier/queue                     ready and dispatched, oldest readiness first
//   GET /live/...                          server-sent events of the above (live.ts, docs/live-updates.md)
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
// Order, menu, kitchen and courier documents carry `actions`: the tasks the
// caller can do on them now, from the deciders' own rules (tasks.ts).
//
// Read-your-writes: `?consistency=<token>` or `X-Consistency-Token: <token>`
// (from a command reply) makes the query wait, at most `consistencyWaitMs`,
// until the model's checkpoint has passed the token's positions. If it does not
// get there in time the answer is 503 `not_yet_consistent` with Retry-After,
// never silently old data. Answers say how long they waited in
// `X-Consistency-Waited-Ms`.
import { traceRequests } from '../../infra/tracing/http';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type Redis from 'ioredis';
import { forbidden, principalOf } from '../../infra/auth/express';
import type { Logger } from '../../infra/logging';
import type { OrderSettings } from '../../producers/order/order.state';
import { customersKeys } from '../projections/customers/customers.keys';
import { customerView, openCustomerView } from '../projections/customers/customers.query';
import type { OrderDocument } from '../projections/orders/orders.projection';
import { openOrderDocument, orderView, type PersonalFieldOpener } from '../projections/orders/orders.query';
import { parsePage, rangeFor, toPage } from '../projections/shared/pagination';
import { salesKeys } from '../projections/sales/sales.keys';
import { parseSalesRange, salesReport, type SalesBucket, type SalesRange } from '../projections/sales/sales.query';
import { mayRead, seesCustomer, seesOrder, type ReadRoute } from './access';
import type { CheckpointWatcher } from './consistency';
import { LiveHub, type LiveSettings } from './live/hub';
import { liveRoutes } from './live/routes';
import { parkedListing, parkedOf } from './parked';
import { readCourierQueue, readCustomerOrders, readKitchenQueue, readMenu, readOrder, run } from './readers';
import { error, serving, type ServingDeps } from './serving';
import { courierEntryTasks, kitchenTicketTasks, menuTasks, orderDocumentTasks, orderSummaryTasks } from './tasks';

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
  /** The order limit the deciders apply, so `actions` offers only what they accept. */
  readonly orderSettings: OrderSettings;
  /** The live streams' shared feeds (live/hub.ts, made by `createLiveHub`); the owner closes it before the server. */
  readonly live: LiveHub;
  /** Opens sealed personal fields with the key cache (docs/privacy.md); without it they are shown sealed. */
  readonly personalData?: PersonalFieldOpener;
}

/** The live streams' hub for a query app with these dependencies. */
export function createLiveHub(deps: ServingDeps & { readonly logger: Logger; readonly settings?: Partial<LiveSettings> }): LiveHub {
  return new LiveHub({
    servingIfWhole: serving(deps).servingIfWhole,
    listen: (keyspace, model, wake) => deps.checkpoints.listen(keyspace, model, wake),
    logger: deps.logger,
    settings: deps.settings,
  });
}

type Hash = Record<string, string>;

/** Query parameters the API reads; each may be given at most once (docs/read-side.md, "Hostile input"). */
const SINGLE_PARAMS = ['offset', 'limit', 'from', 'to', 'consistency'] as const;

export function createQueryApp(deps: QueryApiDeps): express.Express {
  const { redis } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const { whole, reply, open } = serving(deps);
  app.use(traceRequests('query-api'));

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
      const menu = await readMenu(redis, keyspace);
      await reply(res, 'menu', () => res.json(menuTasks(menu, principalOf(res))));
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
      const { start, stop } = rangeFor(page.page);
      // Someone else's orders answer exactly like an unknown customer's.
      const visible = seesCustomer(principalOf(res), id);
      const docs = visible ? await readCustomerOrders(redis, keyspace, id, start, stop) : [];
      if (docs.length === 0 && page.page.offset === 0) {
        // No orders: a customer the customers model knows has an empty list; anyone else is unknown.
        const customers = await whole(res, 'customers');
        if (customers === undefined) return;
        const known = visible ? await redis.exists(customersKeys(customers).profile(id)) : 0;
        if (known === 0) return reply(res, 'customers', () => error(res, 404, 'customer_not_found', `no customer ${id} and no orders of theirs`));
      }
      const fetched = toPage(docs, page.page);
      const items = fetched.items.map(orderView).filter((d): d is OrderDocument => d !== null);
      await reply(res, 'orders', () => res.json({ ...fetched, items: items.map((d) => orderSummaryTasks(d, principalOf(res), deps.orderSettings)) }));
    }),
  );

  app.get(
    '/orders/:id',
    allow('orders'),
    route(async (req, res) => {
      const keyspace = await open(req, res, 'orders');
      if (keyspace === undefined) return;
      const id = req.params.id as string;
      const stored = await readOrder(redis, keyspace, id);
      const caller = principalOf(res);
      // A customer's view of someone else's order is the same as of an unknown one.
      const seen = stored !== null && seesOrder(caller, stored.customerId) ? stored : null;
      const opened = seen === null || deps.personalData === undefined ? seen : openOrderDocument(seen, deps.personalData);
      const view = opened === null ? null : orderDocumentTasks(opened, caller, deps.orderSettings);
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
      const queue = await readKitchenQueue(redis, keyspace, deps.clock());
      await reply(res, 'kitchen', () => res.json({ queue: queue.map((t) => kitchenTicketTasks(t, principalOf(res))) }));
    }),
  );

  app.get(
    '/courier/queue',
    allow('courier'),
    route(async (req, res) => {
      const keyspace = await open(req, res, 'kitchen');
      if (keyspace === undefined) return;
      const opener = deps.personalData;
      const queue = await readCourierQueue(redis, keyspace, deps.clock(), opener?.openAddress.bind(opener));
      await reply(res, 'kitchen', () => res.json({ queue: queue.map((e) => courierEntryTasks(e, principalOf(res))) }));
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

  app.use('/live', liveRoutes({ ...deps, allow, route, serving: serving(deps) }));

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
