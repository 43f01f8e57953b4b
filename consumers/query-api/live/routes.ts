// The live routes (docs/live-updates.md): server-sent events of the menu, the
// kitchen board, the courier queue, one order and a customer's orders, each
// open to exactly whom its GET is open (access.ts), with the GET's 404s.
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import type Redis from 'ioredis';
import { principalOf } from '../../../infra/auth/express';
import type { Logger } from '../../../infra/logging';
import type { OrderSettings } from '../../../producers/order/order.state';
import { customersKeys } from '../../projections/customers/customers.keys';
import { ordersKeys } from '../../projections/orders/orders.keys';
import { parsePage } from '../../projections/shared/pagination';
import { seesCustomer, seesOrder, type ReadRoute } from '../access';
import type { CheckpointWatcher } from '../consistency';
import { openOrderDocument, type PersonalFieldOpener } from '../../projections/orders/orders.query';
import { readOrder } from '../readers';
import { error, type Serving } from '../serving';
import { orderDocumentTasks } from '../tasks';
import type { LiveHub } from './hub';
import { courierCollection, customerOrdersCollection, kitchenCollection, menuCollection, type LiveCollection } from './sources';
import { SseStream } from './sse';
import { streamFeed } from './stream';

export interface LiveRoutesDeps {
  readonly redis: Redis;
  readonly checkpoints: CheckpointWatcher;
  readonly clock: () => number;
  readonly logger: Logger;
  readonly orderSettings: OrderSettings;
  readonly live: LiveHub;
  /** Opens sealed personal fields (docs/privacy.md); without it they are sent sealed, as the GET routes do. */
  readonly personalData?: PersonalFieldOpener;
  readonly serving: Serving;
  readonly allow: (route: ReadRoute) => RequestHandler;
  readonly route: (handler: (req: Request, res: Response) => Promise<void>) => RequestHandler;
}

const hasConsistencyToken = (req: Request): boolean => {
  const token = typeof req.query.consistency === 'string' ? req.query.consistency : req.get('x-consistency-token');
  return token !== undefined && token !== '';
};

export function liveRoutes(deps: LiveRoutesDeps): Router {
  const { redis, live, serving, allow, route, clock } = deps;
  const opener = deps.personalData;
  const router = express.Router();
  // A stream is for GET: a HEAD would hold a connection open that can never carry an event.
  router.use((req, res, next) => (req.method === 'GET' ? next() : error(res, 405, 'method_not_allowed', 'live streams answer GET only', { Allow: 'GET' })));

  /** Opens the collection's feed (after the request's consistency wait) and streams it. */
  const streamCollection = async <Item>(req: Request, res: Response, key: string, collection: LiveCollection<Item>): Promise<void> => {
    if ((await serving.open(req, res, collection.model)) === undefined) return;
    const feed = await live.feed(key, collection);
    if (feed === undefined) {
      return error(res, 503, 'rebuilding', `the ${collection.model} read model is being rebuilt or cannot be read; retry shortly`, { 'Retry-After': '2' });
    }
    // The wait above saw the model reach the token; a feed read from before it may not have.
    if (hasConsistencyToken(req)) await feed.sync();
    streamFeed(req, res, feed, collection, { live, clock });
  };

  router.get('/menu', allow('menu'), route((req, res) => streamCollection(req, res, 'menu', menuCollection(redis))));
  router.get('/kitchen', allow('kitchen'), route((req, res) => streamCollection(req, res, 'kitchen', kitchenCollection(redis))));
  router.get('/courier', allow('courier'), route((req, res) => streamCollection(req, res, 'courier', courierCollection(redis, opener?.openAddress.bind(opener)))));

  router.get(
    '/customers/:id/orders',
    allow('customer'),
    route(async (req, res) => {
      const page = parsePage({ offset: undefined, limit: req.query.limit });
      if (!page.ok) return error(res, 400, 'invalid_request', page.error);
      const id = req.params.id as string;
      const keyspace = await serving.open(req, res, 'orders');
      if (keyspace === undefined) return;
      // Someone else's orders answer exactly like an unknown customer's.
      const visible = seesCustomer(principalOf(res), id);
      const hasOrders = visible && (await redis.zcard(ordersKeys(keyspace).byCustomer(id))) > 0;
      if (!hasOrders) {
        const customers = await serving.whole(res, 'customers');
        if (customers === undefined) return;
        const known = visible ? await redis.exists(customersKeys(customers).profile(id)) : 0;
        if (known === 0) return error(res, 404, 'customer_not_found', `no customer ${id} and no orders of theirs`);
      }
      const limit = page.page.limit;
      await streamCollection(req, res, `customer-orders:${limit}:${id}`, customerOrdersCollection(redis, id, limit, deps.orderSettings));
    }),
  );

  router.get(
    '/orders/:id',
    allow('orders'),
    route(async (req, res) => {
      const keyspace = await serving.open(req, res, 'orders');
      if (keyspace === undefined) return;
      const id = req.params.id as string;
      const caller = principalOf(res);
      const first = await readOrder(redis, keyspace, id);
      // A customer's view of someone else's order is the same as of an unknown one.
      if (first === null || !seesOrder(caller, first.customerId)) return error(res, 404, 'order_not_found', `no order ${id}`);
      const lastEventId = req.get('last-event-id');
      const resumed = lastEventId !== undefined && /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : null;
      const sse = new SseStream(res, live.settings.heartbeatMs);
      live.track(sse);
      // The id is the document's version: greater is exactly "changed since" (docs/live-updates.md, "Resuming").
      let sent = resumed ?? -1;
      const send = (event: 'snapshot' | 'change', doc: typeof first): void => {
        sse.send(String(doc.version), event, JSON.stringify(orderDocumentTasks(opener === undefined ? doc : openOrderDocument(doc, opener), caller, deps.orderSettings)));
        sent = doc.version;
      };
      if (resumed === null) send('snapshot', first);
      else if (first.version > resumed) send('change', first);
      let reading = false;
      let again = false;
      const check = async (): Promise<void> => {
        do {
          again = false;
          if (!sse.writable) return; // the drain wakes it again
          const serving_ = await serving.servingIfWhole('orders');
          if (serving_ === undefined) return sse.end();
          const doc = await readOrder(redis, serving_, id);
          if (doc !== null && doc.version > sent && sse.writable) send('change', doc);
        } while (again && !sse.closed);
      };
      const wake = (): void => {
        if (reading) {
          again = true;
          return;
        }
        reading = true;
        check()
          .catch((err: unknown) => deps.logger.warn({ err, orderId: id }, 'live order stream could not read the order; trying again at the next wake'))
          .finally(() => {
            reading = false;
          });
      };
      const stopListening = await deps.checkpoints.listen(keyspace, 'orders', wake);
      const poll = setInterval(wake, live.settings.pollMs);
      poll.unref();
      sse.onDrain(wake);
      sse.onClose(() => {
        stopListening();
        clearInterval(poll);
      });
      // A change between the first read and listening is not missed.
      wake();
    }),
  );

  return router;
}
