// HTTP metrics of the gateway, the query API and the web role: requests by route and status
// code, and their durations. The route is express's matched path pattern
// (`/orders/:orderId`), never the URL, so ids never become label values.
import type http from 'node:http';
import { DURATION_BUCKETS, type Metrics } from './registry';

export type HttpServerName = 'gateway' | 'query' | 'web' | 'admin-api';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function httpMetrics(metrics: Metrics) {
  return {
    requests: metrics.counter({
      name: 'restaurant_http_requests_total',
      help: 'HTTP requests answered, by server, method, matched route and status code.',
      labelNames: ['server', 'method', 'route', 'code'],
    }),
    duration: metrics.histogram({
      name: 'restaurant_http_request_duration_seconds',
      help: 'Time from receiving an HTTP request to finishing its answer, by server, method and matched route.',
      labelNames: ['server', 'method', 'route'],
      buckets: DURATION_BUCKETS,
    }),
  };
}

/** express's matched route pattern, which it leaves on the request; `unmatched` for a 404 of no route. */
function routeOf(req: http.IncomingMessage, fallback: string): string {
  const route = (req as { route?: { path?: unknown } }).route;
  return typeof route?.path === 'string' ? route.path : fallback;
}

export type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/**
 * Wraps a request handler so every answer is counted and timed. `fixedRoutes`
 * are paths answered outside express (health endpoints) and labelled as such.
 */
export function instrumentHandler(server: HttpServerName, handler: RequestHandler, metrics: Metrics, fixedRoutes: ReadonlySet<string> = new Set()): RequestHandler {
  const m = httpMetrics(metrics);
  return (req, res) => {
    const end = m.duration.startTimer();
    res.once('finish', () => {
      const method = METHODS.has(req.method ?? '') ? (req.method as string) : 'OTHER';
      const path = (req.url ?? '').split('?')[0] ?? '';
      const route = routeOf(req, fixedRoutes.has(path) ? path : 'unmatched');
      end({ server, method, route });
      m.requests.inc({ server, method, route, code: String(res.statusCode) });
    });
    handler(req, res);
  };
}
