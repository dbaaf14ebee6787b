import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from '@switchyard/runtime';
import type { BreakerState } from './circuit-breaker.ts';
import type { DeliveryOutcome } from './post-webhook.ts';

export interface WebhookMetrics {
  deliveries: Counter<'tenant' | 'outcome'>;
  duration: Histogram<'tenant'>;
  fannedOut: Counter<'tenant'>;
  atomicFallbacks: Counter<'tenant'>;
  settled: Counter<'tenant' | 'result'>;
  breakerState: Gauge<'tenant' | 'endpoint'>;
  breakerTransitions: Counter<'tenant' | 'endpoint' | 'from' | 'to'>;
  endpointsDisabled: Counter<'tenant' | 'reason'>;
  logPruned: Counter<'tenant' | 'table'>;
  logRetentionLastRun: Gauge;
}

/** circuit_breaker_state values: the order an outage moves through. */
export const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

export function webhookMetrics(registry: Registry): WebhookMetrics {
  return {
    deliveries: new Counter({
      name: 'webhook_deliveries_total',
      help: 'HTTP attempts to deliver an event to one endpoint, by outcome (delivered, http_error, timeout, network_error, refused)',
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
    fannedOut: new Counter({
      name: 'webhook_fanout_deliveries_total',
      help: 'Deliveries (event, endpoint pairs) published to the WEBHOOKS stream',
      labelNames: ['tenant'],
      registers: [registry],
    }),
    atomicFallbacks: new Counter({
      name: 'webhook_fanout_atomic_fallbacks_total',
      help: 'Fan-out batches whose atomic WEBHOOKS publish was refused (a duplicate, too many batches in flight, a server before 2.12) and that were published one delivery at a time',
      labelNames: ['tenant'],
      registers: [registry],
    }),
    settled: new Counter({
      name: 'webhook_deliveries_settled_total',
      help: 'Deliveries that ended: delivered, exhausted (dead-lettered) or superseded by a re-send',
      labelNames: ['tenant', 'result'],
      registers: [registry],
    }),
    breakerState: new Gauge({
      name: 'circuit_breaker_state',
      help: 'Per-endpoint circuit breaker state: 0 closed, 1 half-open, 2 open',
      labelNames: ['tenant', 'endpoint'],
      registers: [registry],
    }),
    breakerTransitions: new Counter({
      name: 'circuit_breaker_transitions_total',
      help: 'Per-endpoint circuit breaker state changes',
      labelNames: ['tenant', 'endpoint', 'from', 'to'],
      registers: [registry],
    }),
    endpointsDisabled: new Counter({
      name: 'webhook_endpoints_disabled_total',
      help: 'Endpoints the dispatcher disabled itself (reason: gone = the receiver answered 410)',
      labelNames: ['tenant', 'reason'],
      registers: [registry],
    }),
    logPruned: new Counter({
      name: 'webhook_log_rows_pruned_total',
      help: 'Delivery-log rows deleted by retention (table: deliveries or attempts)',
      labelNames: ['tenant', 'table'],
      registers: [registry],
    }),
    logRetentionLastRun: new Gauge({
      name: 'webhook_log_retention_last_run_timestamp_seconds',
      help: 'When the delivery-log retention job last finished a pass over every tenant (unix seconds)',
      registers: [registry],
    }),
  };
}

export function countDelivery(metrics: WebhookMetrics, tenant: string, outcome: DeliveryOutcome, latencyMs: number): void {
  metrics.deliveries.inc({ tenant, outcome });
  metrics.duration.observe({ tenant }, latencyMs / 1000);
}
