// The HTTP servers of a role process:
// * serveHttp: a role's own app (gateway, query API), answering /healthz and
//   /readyz itself, every request counted and timed (infra/metrics/http.ts);
// * serveOps: the operations port (HEALTH_PORT) every process opens, with
//   /metrics for Prometheus and /healthz, /readyz for orchestrators.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { MetricsGuard } from '../auth/metrics-guard';
import type { Logger } from '../logging';
import { instrumentHandler, type HttpServerName, type RequestHandler } from '../metrics/http';
import type { Metrics } from '../metrics/registry';
import type { ReadinessState } from './readiness';

export interface ServedHttp {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /** Stops taking connections and waits for the requests in flight. */
  close(): Promise<void>;
}

const HEALTH_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

const CONNECT_REFUSED = JSON.stringify({ error: { code: 'method_not_allowed', message: 'CONNECT is not supported: this is not a proxy' } });

/**
 * CONNECT never reaches a request handler: without a listener node destroys
 * the socket, an answerless reset. Refuse it with a 405 instead. (Requests
 * that are not HTTP/1.1 at all get node's own 400/431 and the connection closed.)
 */
export function refuseConnect(_req: http.IncomingMessage, socket: Duplex): void {
  socket.on('error', () => socket.destroy());
  socket.end(
    `HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, POST\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(CONNECT_REFUSED)}\r\nConnection: close\r\n\r\n${CONNECT_REFUSED}`,
  );
}

async function listen(server: http.Server, port: number): Promise<ServedHttp> {
  server.keepAliveTimeout = 65_000;
  server.on('connect', refuseConnect);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

function readyz(res: http.ServerResponse, state: ReadinessState): void {
  if (state.ready) return json(res, 200, { status: 'ok' });
  res.setHeader('Retry-After', '1');
  return json(res, 503, { status: 'not ready', reasons: state.reasons });
}

/**
 * A role's app on its port; /healthz answers 200 while it listens, /readyz
 * what the process's readiness says (the same as the operations port's), so a
 * load balancer checking the app's own port learns the truth too.
 */
export async function serveHttp(
  name: HttpServerName,
  app: RequestHandler,
  port: number,
  deps: { readonly log: Logger; readonly metrics: Metrics; readonly readiness?: () => ReadinessState },
  message: string,
): Promise<ServedHttp> {
  const handler = instrumentHandler(
    name,
    (req, res) => {
      if (req.method === 'GET' && req.url === '/healthz') return json(res, 200, { status: 'ok' });
      if (req.method === 'GET' && req.url === '/readyz') return readyz(res, deps.readiness?.() ?? { ready: true, reasons: [] });
      return app(req, res);
    },
    deps.metrics,
    HEALTH_PATHS,
  );
  const served = await listen(http.createServer(handler), port);
  deps.log.info({ port: served.port }, message);
  return served;
}

/**
 * The operations port: GET /metrics (the process registry), /healthz (200 while
 * the process runs and can still work; 503 when a consumer stopped for good) and /readyz (200 once every role has started and while
 * each can work: Kafka answers, consumers assigned, Redis connected; 503 with
 * the reasons before, while not, and while shutting down; docs/recovery.md).
 */
export async function serveOps(
  port: number,
  deps: {
    readonly metrics: Metrics;
    readonly readiness: () => ReadinessState;
    /** Reasons the process should be restarted (a consumer stopped for good); /healthz says 503 with them. */
    readonly broken?: () => readonly string[];
    readonly log: Logger;
    readonly guard?: MetricsGuard;
  },
): Promise<ServedHttp> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method not allowed' });
    if (path === '/healthz') {
      const broken = deps.broken?.() ?? [];
      return broken.length === 0 ? json(res, 200, { status: 'ok' }) : json(res, 503, { status: 'broken', reasons: broken });
    }
    if (path === '/readyz') return readyz(res, deps.readiness());
    if (path !== '/metrics') return json(res, 404, { error: 'not found' });
    void allowed(req, deps.guard).then((ok) => {
      if (ok) return sendMetrics(res, deps);
      res.setHeader('WWW-Authenticate', 'Bearer realm="restaurant"');
      return json(res, 401, { error: { code: 'unauthorized', message: 'METRICS_AUTH=required: send Authorization: Bearer <METRICS_TOKEN or an admin token>' } });
    });
  });
  const served = await listen(server, port);
  deps.log.info({ port: served.port, metricsAuth: deps.guard === undefined ? 'open' : 'required' }, 'operations endpoints (/metrics, /healthz, /readyz) listening');
  return served;
}

async function allowed(req: http.IncomingMessage, guard: MetricsGuard | undefined): Promise<boolean> {
  return guard === undefined ? true : guard(req.headers.authorization).catch(() => false);
}

function sendMetrics(res: http.ServerResponse, deps: { readonly metrics: Metrics; readonly log: Logger }): void {
  deps.metrics.text().then(
    (text) => res.writeHead(200, { 'content-type': deps.metrics.contentType }).end(text),
    (error: unknown) => {
      deps.log.error({ err: error }, 'collecting metrics failed');
      json(res, 500, { error: 'collecting metrics failed' });
    },
  );
}
