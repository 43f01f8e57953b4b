// sampledContextOf, the projection batch's shortcut past the W3C propagator:
// for every header it must give the propagator's answer (the context when the
// record is sampled, else nothing), whether the value is text or a Kafka Buffer.
import { trace, TraceFlags } from '@opentelemetry/api';
import type { IHeaders } from 'kafkajs';
import { contextFromHeaders, sampledContextOf } from '../../../../infra/tracing/propagation';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';

const values: ReadonlyArray<[string, string]> = [
  ['sampled', `00-${TRACE}-${SPAN}-01`],
  ['not sampled', `00-${TRACE}-${SPAN}-00`],
  ['sampled with another flag set', `00-${TRACE}-${SPAN}-03`],
  ['not sampled with another flag set', `00-${TRACE}-${SPAN}-02`],
  ['sampled, flags ending in a letter', `00-${TRACE}-${SPAN}-0b`],
  ['malformed', 'garbage'],
  ['all-zero trace id', `00-${'0'.repeat(32)}-${SPAN}-01`],
  ['all-zero span id', `00-${TRACE}-${'0'.repeat(16)}-01`],
  ['upper-case hex', `00-${TRACE.toUpperCase()}-${SPAN}-01`],
  ['version ff', `ff-${TRACE}-${SPAN}-01`],
  ['a later version with more fields', `01-${TRACE}-${SPAN}-01-what-comes-later`],
  ['surrounding space', ` 00-${TRACE}-${SPAN}-01`],
  ['a short trace id', `00-${TRACE.slice(2)}-${SPAN}-01`],
  ['empty', ''],
];

function propagatorAnswer(headers: IHeaders | undefined) {
  const context = trace.getSpanContext(contextFromHeaders(headers));
  return context !== undefined && (context.traceFlags & TraceFlags.SAMPLED) !== 0 ? context : undefined;
}

describe('sampledContextOf', () => {
  it.each(values)('answers as the propagator does for a traceparent that is %s (text and Buffer)', (_, traceparent) => {
    for (const headers of [{ traceparent }, { traceparent: Buffer.from(traceparent) }, { traceparent: [Buffer.from(traceparent)] }]) {
      expect(sampledContextOf(headers)).toEqual(propagatorAnswer(headers));
    }
  });

  it('reads a sampled record without the propagator: the ids, the flags, remote', () => {
    expect(sampledContextOf({ traceparent: Buffer.from(`00-${TRACE}-${SPAN}-01`) })).toEqual({ traceId: TRACE, spanId: SPAN, traceFlags: 1, isRemote: true });
  });

  it('keeps the tracestate of a sampled record that has one', () => {
    const context = sampledContextOf({ traceparent: Buffer.from(`00-${TRACE}-${SPAN}-01`), tracestate: Buffer.from('vendor=1') });
    expect(context?.traceId).toBe(TRACE);
    expect(context?.traceState?.get('vendor')).toBe('1');
  });

  it('answers nothing for a record without trace headers', () => {
    expect(sampledContextOf(undefined)).toBeUndefined();
    expect(sampledContextOf({ 'event-type': 'OrderPlaced' })).toBeUndefined();
  });
});
