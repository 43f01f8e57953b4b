import { readTracingSettings, TracingConfigError } from '../../../../infra/tracing/settings';

describe('tracing settings', () => {
  it('is off by default, recording every new trace once turned on, to the local Zipkin', () => {
    expect(readTracingSettings({})).toEqual({ mode: 'off', sampleRatio: 1, zipkinUrl: 'http://127.0.0.1:9411/api/v2/spans', otlpUrl: 'http://127.0.0.1:4318/v1/traces' });
  });

  it('follows ZIPKIN_PORT, or takes ZIPKIN_URL and OTLP_TRACES_URL as given', () => {
    expect(readTracingSettings({ TRACING: 'zipkin', ZIPKIN_PORT: '24411' }).zipkinUrl).toBe('http://127.0.0.1:24411/api/v2/spans');
    const s = readTracingSettings({ TRACING: 'otlp', TRACING_SAMPLE_RATIO: '0.01', ZIPKIN_URL: 'http://zipkin:9411/api/v2/spans', OTLP_TRACES_URL: 'http://collector:4318/v1/traces' });
    expect(s).toEqual({ mode: 'otlp', sampleRatio: 0.01, zipkinUrl: 'http://zipkin:9411/api/v2/spans', otlpUrl: 'http://collector:4318/v1/traces' });
  });

  it.each([
    [{ TRACING: 'jaeger' }, /TRACING="jaeger" is not one of off, zipkin, otlp/],
    [{ TRACING_SAMPLE_RATIO: '1.5' }, /TRACING_SAMPLE_RATIO="1.5" is not a number from 0 to 1/],
    [{ TRACING_SAMPLE_RATIO: 'all' }, /TRACING_SAMPLE_RATIO="all"/],
    [{ ZIPKIN_PORT: '0' }, /ZIPKIN_PORT="0" is not a port/],
    [{ ZIPKIN_URL: 'not a url' }, /ZIPKIN_URL="not a url" is not a URL/],
  ])('refuses %j', (env, message) => {
    expect(() => readTracingSettings(env)).toThrow(TracingConfigError);
    expect(() => readTracingSettings(env)).toThrow(message);
  });
});
