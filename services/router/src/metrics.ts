import { Counter } from 'prom-client';
import type { Registry } from '@switchyard/runtime';

export interface RouterMetrics {
  routed: Counter<'tenant' | 'type' | 'duplicate'>;
  rejected: Counter<'tenant' | 'reason'>;
  gaps: Counter<'tenant'>;
  atomicFallbacks: Counter<'tenant'>;
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
      help: 'INGEST messages dead-lettered as bad input, by reason (tenant _system: subject had no valid tenant)',
      labelNames: ['tenant', 'reason'],
      registers: [registry],
    }),
    // The instance is in the log line, not a label: instances are unbounded, tenants are not.
    gaps: new Counter({
      name: 'event_sequence_gaps_total',
      help: 'Times an instance seq skipped ahead on its way to EVENTS (missing events; see the router log for the instance)',
      labelNames: ['tenant'],
      registers: [registry],
    }),
    atomicFallbacks: new Counter({
      name: 'router_atomic_fallbacks_total',
      help: 'Batches whose atomic publish to EVENTS was refused (a duplicate event id, too many batches in flight, a server before 2.12); their events went one by one',
      labelNames: ['tenant'],
      registers: [registry],
    }),
  };
}
