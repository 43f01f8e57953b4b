// Every HTTP request starts a trace, or continues the caller's (`traceparent`):
// one server span per request, named by the route, ended when the response is
// done. The handlers pass its context on explicitly (res.locals), e.g. into
// the command's Kafka headers.
import { SpanKind } from '@opentelemetry/api';
import type { RequestHandler, Response } from 'express';
import { traceHeadersOf, type TraceHeaders } from './propagation';
import { startStep } from './spans';

/** Middleware: a server span per request, its context in res.locals; recorded traces answer with X-Trace-Id. */
export function traceRequests(role: string): RequestHandler {
  return (req, res, next) => {
    const span = startStep(`${role} ${req.method}`, req.headers, { 'http.request.method': req.method, 'url.path': req.path }, SpanKind.SERVER);
    res.locals.trace = traceHeadersOf(span);
    if (span.isRecording()) res.setHeader('X-Trace-Id', span.spanContext().traceId);
    res.once('close', () => {
      const route: unknown = (req as { route?: { path?: unknown } }).route?.path;
      if (typeof route === 'string') {
        span.updateName(`${role} ${req.method} ${route}`);
        span.setAttribute('http.route', route);
      }
      span.setAttribute('http.response.status_code', res.statusCode);
      span.end();
    });
    next();
  };
}

/** The trace headers of the request a handler answers (undefined when it carried none and tracing is off). */
export function requestTrace(res: Response): TraceHeaders | undefined {
  const trace: unknown = res.locals.trace;
  return typeof trace === 'object' && trace !== null && 'traceparent' in trace ? (trace as TraceHeaders) : undefined;
}
