import { Counter, Histogram, type Registry } from 'prom-client';

export interface ConsumerMetrics {
  consumed: Counter<'service' | 'tenant' | 'outcome'>;
  duration: Histogram<'service' | 'tenant'>;
  dlqPublished: Counter<'service' | 'tenant' | 'reason'>;
  retries: Counter<'service' | 'tenant'>;
}

// Many consumers share one registry (one per tenant); registering a metric twice throws.
const byRegistry = new WeakMap<Registry, ConsumerMetrics>();

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Counter) return existing;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export function consumerMetrics(registry: Registry): ConsumerMetrics {
  const cached = byRegistry.get(registry);
  if (cached !== undefined) return cached;
  const existingDuration = registry.getSingleMetric('event_processing_duration_seconds');
  const metrics: ConsumerMetrics = {
    consumed: counter(registry, 'events_consumed_total', 'Messages settled by a consumer, by outcome.', [
      'service',
      'tenant',
      'outcome',
    ]),
    duration:
      existingDuration instanceof Histogram
        ? existingDuration
        : new Histogram({
            name: 'event_processing_duration_seconds',
            help: 'Time from taking a message to settling it, handler and DLQ hand-off included.',
            labelNames: ['service', 'tenant'],
            buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
            registers: [registry],
          }),
    dlqPublished: counter(registry, 'dlq_published_total', 'Messages handed to the DLQ stream, by reason.', [
      'service',
      'tenant',
      'reason',
    ]),
    retries: counter(registry, 'event_retries_total', 'Messages negatively acknowledged for a later retry.', [
      'service',
      'tenant',
    ]),
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
