// Starts the OpenTelemetry SDK for one process when TRACING is zipkin or otlp:
// a tracer provider with a parent-based ratio sampler (a new trace is recorded
// with TRACING_SAMPLE_RATIO; a continued one follows its parent's decision),
// batched export to Zipkin's or an OTLP collector's HTTP endpoint. With
// TRACING=off nothing is started: the API's no-op tracer answers every call.
import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ZipkinExporter } from '@opentelemetry/exporter-zipkin';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { TracingSettings } from './settings';

export interface Tracing {
  /** Sends what is buffered now. */
  flush(): Promise<void>;
  /** Sends what is buffered and stops exporting. */
  shutdown(): Promise<void>;
}

let started = false;
/** True once this process records spans (TRACING is not off). */
export const tracingStarted = (): boolean => started;

function exporterFor(settings: TracingSettings): SpanExporter {
  if (settings.mode === 'zipkin') return new ZipkinExporter({ url: settings.zipkinUrl });
  return new OTLPTraceExporter({ url: settings.otlpUrl });
}

/** Starts tracing for `serviceName` (e.g. restaurant-gateway); undefined when TRACING=off. `exporter` replaces the configured one (tests). */
export function startTracing(settings: TracingSettings, serviceName: string, exporter?: SpanExporter): Tracing | undefined {
  if (settings.mode === 'off') return undefined;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
    // Exported in the background, at most every second: a role never waits for the trace backend.
    spanProcessors: [new BatchSpanProcessor(exporter ?? exporterFor(settings), { scheduledDelayMillis: 1000, maxQueueSize: 8192, maxExportBatchSize: 512 })],
  });
  // No global context manager or propagator: the roles hand contexts on explicitly (propagation.ts).
  trace.setGlobalTracerProvider(provider);
  started = true;
  return {
    async flush() {
      await provider.forceFlush();
    },
    async shutdown() {
      await provider.shutdown();
    },
  };
}
