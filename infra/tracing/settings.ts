// Tracing's configuration, read from the environment like the rest of
// infra/config.ts: TRACING (off | zipkin | otlp), TRACING_SAMPLE_RATIO, and
// where the spans go (ZIPKIN_URL, or ZIPKIN_PORT of the local stack;
// OTLP_TRACES_URL). docs/tracing.md.

export const TRACING_MODES = ['off', 'zipkin', 'otlp'] as const;
export type TracingMode = (typeof TRACING_MODES)[number];

export interface TracingSettings {
  /** off (default): no SDK, no spans; trace headers that come in are still forwarded. */
  readonly mode: TracingMode;
  /** The share of new traces recorded (TRACING_SAMPLE_RATIO, 0 to 1, default 1); a continued trace follows its parent's decision. */
  readonly sampleRatio: number;
  /** Zipkin's span intake (ZIPKIN_URL, default http://127.0.0.1:<ZIPKIN_PORT, 9411>/api/v2/spans). */
  readonly zipkinUrl: string;
  /** An OTLP/HTTP collector's traces endpoint (OTLP_TRACES_URL, default http://127.0.0.1:4318/v1/traces). */
  readonly otlpUrl: string;
}

/** A tracing variable holds something unusable: start-up stops with what to fix. */
export class TracingConfigError extends Error {
  override readonly name = 'TracingConfigError';
}

type Env = Record<string, string | undefined>;

function url(name: string, raw: string): string {
  try {
    return new URL(raw).toString();
  } catch (cause) {
    throw new TracingConfigError(`${name}=${JSON.stringify(raw)} is not a URL`, { cause });
  }
}

export function readTracingSettings(env: Env = process.env): TracingSettings {
  const rawMode = env.TRACING === undefined || env.TRACING === '' ? 'off' : env.TRACING;
  if (!(TRACING_MODES as readonly string[]).includes(rawMode)) throw new TracingConfigError(`TRACING=${JSON.stringify(rawMode)} is not one of ${TRACING_MODES.join(', ')}`);
  const rawRatio = env.TRACING_SAMPLE_RATIO;
  const sampleRatio = rawRatio === undefined || rawRatio === '' ? 1 : Number(rawRatio);
  if (!Number.isFinite(sampleRatio) || sampleRatio < 0 || sampleRatio > 1) throw new TracingConfigError(`TRACING_SAMPLE_RATIO=${JSON.stringify(rawRatio)} is not a number from 0 to 1`);
  const zipkinPort = env.ZIPKIN_PORT === undefined || env.ZIPKIN_PORT === '' ? 9411 : Number(env.ZIPKIN_PORT);
  if (!Number.isInteger(zipkinPort) || zipkinPort < 1 || zipkinPort > 65535) throw new TracingConfigError(`ZIPKIN_PORT=${JSON.stringify(env.ZIPKIN_PORT)} is not a port`);
  return Object.freeze({
    mode: rawMode as TracingMode,
    sampleRatio,
    zipkinUrl: url('ZIPKIN_URL', env.ZIPKIN_URL || `http://127.0.0.1:${zipkinPort}/api/v2/spans`),
    otlpUrl: url('OTLP_TRACES_URL', env.OTLP_TRACES_URL || 'http://127.0.0.1:4318/v1/traces'),
  });
}
