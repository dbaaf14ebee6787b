import { Counter, Histogram } from 'prom-client';
import type { Registry } from '@switchyard/runtime';
import type { DeliveryOutcome } from './post-webhook.ts';

export interface WebhookMetrics {
  deliveries: Counter<'tenant' | 'outcome'>;
  duration: Histogram<'tenant'>;
}

export function webhookMetrics(registry: Registry): WebhookMetrics {
  return {
    deliveries: new Counter({
      name: 'webhook_deliveries_total',
      help: 'HTTP deliveries of an event to one endpoint, by outcome (delivered, http_error, timeout, network_error)',
      labelNames: ['tenant', 'outcome'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'webhook_delivery_duration_seconds',
      help: 'Time from sending a webhook to its response (or failure)',
      labelNames: ['tenant'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
  };
}

export function countDelivery(metrics: WebhookMetrics, tenant: string, outcome: DeliveryOutcome, latencyMs: number): void {
  metrics.deliveries.inc({ tenant, outcome });
  metrics.duration.observe({ tenant }, latencyMs / 1000);
}
