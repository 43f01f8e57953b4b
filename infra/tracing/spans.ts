// The spans the roles make: one per step that a record (or an HTTP request)
// caused, a child of the cause's span, and one per projection batch and trace,
// linked to every record of that trace it applied. With tracing off the API's
// no-op tracer answers: no span is recorded, and the cause's context is what
// the step's outputs carry onwards.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Link, type Span } from '@opentelemetry/api';
import { contextFromHeaders, sampledContextOf, type TraceHeaders } from './propagation';
import type { IHeaders } from 'kafkajs';
import { tracingStarted } from './sdk';

export const TRACER_NAME = 'restaurant';
const tracer = () => trace.getTracer(TRACER_NAME);

/** A step caused by one record (or a request, a fired deadline): a child of the cause's span, or a new trace when it has none. */
export function startStep(name: string, cause: IHeaders | TraceHeaders | undefined, attributes: Attributes = {}, kind: SpanKind = SpanKind.CONSUMER): Span {
  return tracer().startSpan(name, { kind, attributes }, contextFromHeaders(cause));
}

/** Ends a span; with an error, marked failed with it. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }
  span.end();
}

/**
 * A batch caused by many records: one span per trace that has a sampled record
 * in it (so each order's trace shows the batch that applied its events), a
 * child of that trace's first record and linked to all of them. Records that
 * are not sampled (or carry no trace) cost a look at their `traceparent`'s
 * last byte and nothing else; a sampled one is read without the propagator
 * (sampledContextOf), since at 100% sampling this runs for every record.
 */
export function startBatchSpans(name: string, causes: ReadonlyArray<IHeaders | undefined>, attributes: Attributes = {}): Span[] {
  // Nothing of a batch travels on (its outputs are read models): with tracing off, no work at all.
  if (causes.length === 0 || !tracingStarted()) return [];
  const byTrace = new Map<string, Link[]>();
  for (const headers of causes) {
    const context = sampledContextOf(headers);
    if (context === undefined) continue;
    const links = byTrace.get(context.traceId);
    if (links === undefined) byTrace.set(context.traceId, [{ context }]);
    else links.push({ context });
  }
  if (byTrace.size === 0) return [];
  const common: Attributes = { ...attributes, 'messaging.batch.message_count': causes.length };
  const spans: Span[] = [];
  for (const links of byTrace.values()) {
    const parent = trace.setSpanContext(ROOT_CONTEXT, (links[0] as Link).context);
    spans.push(tracer().startSpan(name, { kind: SpanKind.CONSUMER, links, attributes: { ...common, 'restaurant.batch.records_of_this_trace': links.length } }, parent));
  }
  return spans;
}
