import { Counter } from 'prom-client';
import type { Registry } from '@switchyard/runtime';

export interface RouterMetrics {
  routed: Counter<'tenant' | 'type' | 'duplicate'>;
  rejected: Counter<'tenant' | 'reason'>;
}

export function routerMetrics(registry: Registry): RouterMetrics {
  return {
    routed: new Counter({
      name: 'router_events_routed_total',
      help: 'Events validated on INGEST and published to EVENTS',
      labelNames: ['tenant', 'type', 'duplicate'],
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'router_events_rejected_total',
      help: 'INGEST messages dead-lettered as bad input, by reason',
      labelNames: ['tenant', 'reason'],
      registers: [registry],
    }),
  };
}
