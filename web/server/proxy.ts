// The web role's same-origin proxy: the browser talks to one origin, and
// `/api/gateway/*` and `/api/query/*` are forwarded as they are (method, body,
// the headers the APIs read) to the HTTP gateway and the query API. No CORS,
// no second origin for the browser to trust. Bodies are streamed both ways,
// so a server-sent-events answer reaches the browser event by event.
import http from 'node:http';

/** Request headers the APIs read; nothing else (cookies, the browser's own) is passed on. */
const FORWARDED_REQUEST_HEADERS = [
  'accept',
  'authorization',
  'content-type',
  'content-length',
  'idempotency-key',
  'if-match',
  'last-event-id',
  'x-consistency-token',
  'x-correlation-id',
] as const;

/** Hop-by-hop headers (RFC 9110 §7.6.1) are the proxy's own business, never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

export interface ProxyTarget {
  /** Path prefix the browser uses, e.g. `/api/gateway`. */
  readonly prefix: string;
  /** Where it goes, e.g. `http://127.0.0.1:3000`. */
  readonly origin: string;
}

function problem(res: http.ServerResponse, status: number, code: string, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code, message } }));
}

/** The upstream path of `url` under `target`, or undefined when it is not under the prefix. */
export function upstreamPath(url: string, prefix: string): string | undefined {
  if (url !== prefix && !url.startsWith(`${prefix}/`) && !url.startsWith(`${prefix}?`)) return undefined;
  const rest = url.slice(prefix.length);
  return rest === '' || rest.startsWith('?') ? `/${rest}` : rest;
}

/** Forwards the request to `target`; answers 502 when the API cannot be reached. */
export function forward(req: http.IncomingMessage, res: http.ServerResponse, target: ProxyTarget, path: string): void {
  const headers: Record<string, string | string[]> = {};
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value: string | string[] | undefined = req.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  const url = new URL(path, target.origin);
  const upstream = http.request(url, { method: req.method, headers }, (answer) => {
    const out: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(answer.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
    res.writeHead(answer.statusCode ?? 502, out);
    // Server-sent events must not wait in a buffer.
    res.flushHeaders();
    answer.pipe(res);
    answer.on('error', () => res.destroy());
  });
  upstream.on('error', (err) => problem(res, 502, 'upstream_unavailable', `${target.prefix} cannot be reached right now (${err.message}); retry shortly`));
  // The browser went away (a page closed, a live stream ended): stop asking upstream too.
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}
