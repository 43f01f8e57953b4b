// Trace context in Kafka record headers and HTTP headers: W3C `traceparent`
// (and `tracestate`), beside the correlation and causation ids.
//
// The W3C propagator is used directly, never through the global API, so it
// works the same with tracing off: no SDK is started then, the API's tracer
// returns spans that carry their parent's context unchanged, and what came in
// is forwarded as it was. A record that carries no trace context starts none.
import { ROOT_CONTEXT, trace, type Context, type Span, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { IHeaders } from 'kafkajs';

/** The trace headers of one record or request: `traceparent`, and `tracestate` when there is one. */
export type TraceHeaders = Readonly<Record<string, string>>;

/** Kafka record headers (Buffer or string values) or node's HTTP request headers. */
type Carrier = IHeaders | Readonly<Record<string, string | readonly string[] | undefined>> | undefined;

const propagator = new W3CTraceContextPropagator();
export const TRACE_HEADER_NAMES: readonly string[] = propagator.fields();

const getter: TextMapGetter<Carrier> = {
  keys: (carrier) => Object.keys(carrier ?? {}),
  get(carrier, key) {
    const raw = carrier?.[key];
    const one = Array.isArray(raw) ? raw[0] : raw;
    return one === undefined ? undefined : String(one);
  },
};

const setter: TextMapSetter<Record<string, string>> = {
  set(carrier, key, value) {
    carrier[key] = value;
  },
};

/** The trace context in a record's or request's headers (the root context when there is none). */
export function contextFromHeaders(headers: Carrier): Context {
  if (headers === undefined || headers.traceparent === undefined) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, headers, getter);
}

/** The headers that carry `span`'s context onwards (none for a span without a valid context: an untraced cause with tracing off). */
export function traceHeadersOf(span: Span | undefined): TraceHeaders {
  if (span === undefined) return {};
  const out: Record<string, string> = {};
  propagator.inject(trace.setSpan(ROOT_CONTEXT, span), out, setter);
  return out;
}

/** Just the trace headers of a record's headers, as text (for carrying them somewhere else, e.g. a changelog record). */
export function traceHeadersIn(headers: Carrier): TraceHeaders {
  const out: Record<string, string> = {};
  for (const name of TRACE_HEADER_NAMES) {
    const value = getter.get(headers, name);
    if (value !== undefined) out[name] = Array.isArray(value) ? String(value[0]) : String(value);
  }
  return out;
}
