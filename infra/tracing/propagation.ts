// Trace context in Kafka record headers and HTTP headers: W3C `traceparent`
// (and `tracestate`), beside the correlation and causation ids.
//
// The W3C propagator is used directly, never through the global API, so it
// works the same with tracing off: no SDK is started then, the API's tracer
// returns spans that carry their parent's context unchanged, and what came in
// is forwarded as it was. A record that carries no trace context starts none.
import { ROOT_CONTEXT, trace, TraceFlags, type Context, type Span, type SpanContext, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
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

/** A hex digit's value from its character code; -1 for any other character. */
function hexDigit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/** A version-00 `traceparent` with nothing around it: what this system writes, read without the propagator. */
const PLAIN_TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/**
 * The context in a record's headers when it is sampled, else undefined: the
 * same answer as the propagator's, cheaper, for paths that look at every
 * record (a projection batch). An unsampled `traceparent` is passed over by
 * its last byte (the flags' low bit) without being read as text; a plain
 * version-00 one is sliced; anything else (a `tracestate`, another version,
 * a malformed value) goes through the propagator.
 */
export function sampledContextOf(headers: IHeaders | undefined): SpanContext | undefined {
  const raw = headers?.traceparent;
  const one = Array.isArray(raw) ? (raw as ReadonlyArray<Buffer | string>)[0] : raw;
  if (one === undefined || one.length === 0) return undefined;
  const last = typeof one === 'string' ? one.charCodeAt(one.length - 1) : (one[one.length - 1] as number);
  const digit = hexDigit(last);
  if (digit >= 0 && (digit & TraceFlags.SAMPLED) === 0) return undefined;
  if (headers?.tracestate === undefined) {
    const text = typeof one === 'string' ? one : one.toString('latin1');
    if (PLAIN_TRACEPARENT.test(text)) {
      const traceId = text.slice(3, 35);
      const spanId = text.slice(36, 52);
      if (traceId !== ZERO_TRACE_ID && spanId !== ZERO_SPAN_ID) return { traceId, spanId, traceFlags: hexDigit(text.charCodeAt(53)) * 16 + digit, isRemote: true };
    }
  }
  const context = trace.getSpanContext(contextFromHeaders(headers));
  return context !== undefined && (context.traceFlags & TraceFlags.SAMPLED) !== 0 ? context : undefined;
}
