// Tracing on, with the real SDK and an in-memory exporter: steps are children
// of their cause, batches one span per sampled trace linked to its records,
// the sampler follows the parent's decision and the ratio for new traces.
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { traceHeadersOf } from '../../../../infra/tracing/propagation';
import { startTracing, tracingStarted, type Tracing } from '../../../../infra/tracing/sdk';
import { readTracingSettings } from '../../../../infra/tracing/settings';
import { endSpan, startBatchSpans, startStep } from '../../../../infra/tracing/spans';

const TRACE_A = '0af7651916cd43dd8448eb211c80319c';
const TRACE_B = '4bf92f3577b34da6a3ce929d0e0e4736';
const parent = (trace: string, span: string, sampled = true): string => `00-${trace}-${span}-${sampled ? '01' : '00'}`;

const exporter = new InMemorySpanExporter();
let tracing: Tracing;

beforeAll(() => {
  tracing = startTracing(readTracingSettings({ TRACING: 'zipkin', TRACING_SAMPLE_RATIO: '1' }), 'restaurant-test', exporter) as Tracing;
});
afterAll(() => tracing.shutdown());
beforeEach(() => exporter.reset());

async function finished() {
  await tracing.flush();
  return exporter.getFinishedSpans();
}

describe('spans with tracing on', () => {
  it('starts the SDK', () => {
    expect(tracingStarted()).toBe(true);
  });

  it('makes a step a child of the record that caused it, and hands its own context on', async () => {
    const span = startStep('order-fulfilment step OrderPlaced', { traceparent: parent(TRACE_A, 'b7ad6b7169203331') });
    const onwards = traceHeadersOf(span);
    span.end();
    const [recorded] = await finished();
    expect(recorded?.name).toBe('order-fulfilment step OrderPlaced');
    expect(recorded?.spanContext().traceId).toBe(TRACE_A);
    expect(recorded?.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(onwards).toEqual({ traceparent: parent(TRACE_A, recorded?.spanContext().spanId as string) });
  });

  it('follows a parent that was not sampled: nothing recorded, but the trace id still travels', async () => {
    const span = startStep('command-processor decide PlaceOrder', { traceparent: parent(TRACE_A, 'b7ad6b7169203331', false) });
    const onwards = traceHeadersOf(span);
    span.end();
    expect(await finished()).toEqual([]);
    expect(onwards.traceparent).toMatch(new RegExp(`^00-${TRACE_A}-[0-9a-f]{16}-00$`));
  });

  it('records a failed step as an error', async () => {
    endSpan(startStep('projector orders batch', undefined), new Error('Redis refused'));
    const [recorded] = await finished();
    expect(recorded?.status).toEqual({ code: 2, message: 'Redis refused' });
  });

  it('makes one span per sampled trace of a batch, a child of its first record and linked to each', async () => {
    const spans = startBatchSpans('projector orders batch', [
      { traceparent: parent(TRACE_A, '1111111111111111') },
      { traceparent: parent(TRACE_B, '2222222222222222') },
      { traceparent: parent(TRACE_A, '3333333333333333') },
      { traceparent: parent(TRACE_B, '4444444444444444', false) },
      { 'event-type': 'OrderPlaced' },
      undefined,
    ]);
    for (const span of spans) span.end();
    const recorded = (await finished()).map((s) => ({
      trace: s.spanContext().traceId,
      parent: s.parentSpanContext?.spanId,
      links: s.links.map((l) => l.context.spanId),
      count: s.attributes['messaging.batch.message_count'],
    }));
    expect(recorded).toEqual([
      { trace: TRACE_A, parent: '1111111111111111', links: ['1111111111111111', '3333333333333333'], count: 6 },
      { trace: TRACE_B, parent: '2222222222222222', links: ['2222222222222222'], count: 6 },
    ]);
  });
});
