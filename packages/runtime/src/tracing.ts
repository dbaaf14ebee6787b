import { trace, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { NodeSDK } from '@opentelemetry/sdk-node';

export interface StartTracingOptions {
  serviceName: string;
  /** OTLP/HTTP collector base URL (OTEL_EXPORTER_OTLP_ENDPOINT); tracing stays off when unset. */
  endpoint?: string | undefined;
}

export interface TracingHandle {
  enabled: boolean;
  /** Flushes pending spans; register it in the shutdown controller's `close` phase. */
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry SDK exporting spans over OTLP/HTTP. Without an endpoint nothing is
 * started and `tracer()` hands out no-op tracers, so code can create spans unconditionally.
 */
export function startTracing(options: StartTracingOptions): TracingHandle {
  if (!options.endpoint) return { enabled: false, shutdown: async () => {} };
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    // Like the env-var convention, the endpoint is a base URL; the traces path is per signal.
    traceExporter: new OTLPTraceExporter({ url: `${options.endpoint.replace(/\/+$/, '')}/v1/traces` }),
    instrumentations: [],
    // The SDK would otherwise also export metrics and logs over OTLP by default; metrics go
    // through Prometheus (/metrics) and logs through pino, so only traces leave this way.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  return { enabled: true, shutdown: () => sdk.shutdown() };
}

export function tracer(name: string): Tracer {
  return trace.getTracer(name);
}
