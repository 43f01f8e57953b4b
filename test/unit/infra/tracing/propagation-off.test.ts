// Tracing off (no SDK started in this file): nothing is recorded, and the
// trace context that came in is forwarded exactly as it was.
import { traceHeadersIn, traceHeadersOf } from '../../../../infra/tracing/propagation';
import { startBatchSpans, startStep } from '../../../../infra/tracing/spans';
import { tracingStarted } from '../../../../infra/tracing/sdk';

const SAMPLED = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const NOT_SAMPLED = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';

describe('trace propagation with tracing off', () => {
  it('starts no SDK', () => {
    expect(tracingStarted()).toBe(false);
  });

  it.each([SAMPLED, NOT_SAMPLED])('forwards %s and its tracestate unchanged, recording nothing', (traceparent) => {
    const span = startStep('command-processor decide PlaceOrder', { traceparent: Buffer.from(traceparent), tracestate: 'vendor=1', 'correlation-id': 'c-1' });
    expect(span.isRecording()).toBe(false);
    expect(traceHeadersOf(span)).toEqual({ traceparent, tracestate: 'vendor=1' });
  });

  it('starts no trace for a record or request that carries none', () => {
    expect(traceHeadersOf(startStep('gateway POST', { 'correlation-id': 'c-1' }))).toEqual({});
    expect(traceHeadersOf(startStep('gateway POST', undefined))).toEqual({});
  });

  it('ignores a malformed traceparent rather than forwarding it', () => {
    expect(traceHeadersOf(startStep('step', { traceparent: 'garbage' }))).toEqual({});
  });

  it('makes no batch spans at all', () => {
    expect(startBatchSpans('projector orders batch', [{ traceparent: SAMPLED }])).toEqual([]);
  });

  it('picks the trace headers out of a record (e.g. to keep them with a process state)', () => {
    expect(traceHeadersIn({ traceparent: Buffer.from(SAMPLED), 'event-type': 'OrderPlaced' })).toEqual({ traceparent: SAMPLED });
    expect(traceHeadersIn(undefined)).toEqual({});
  });
});
