import { Counter } from 'prom-client';
import type { Registry } from '@switchyard/runtime';

// `media_backlog` (pending jobs per tenant) joins these once the download worker exists.
export interface MediaMetrics {
  jobsCreated: Counter<'tenant' | 'kind'>;
  rejected: Counter<'tenant' | 'reason'>;
}

export function mediaMetrics(registry: Registry): MediaMetrics {
  return {
    jobsCreated: new Counter({
      name: 'media_jobs_created_total',
      help: 'Media jobs recorded as pending (a redelivered event that finds its job already there is not counted)',
      labelNames: ['tenant', 'kind'],
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'media_events_rejected_total',
      help: 'EVENTS messages media dead-lettered as bad input, by reason',
      labelNames: ['tenant', 'reason'],
      registers: [registry],
    }),
  };
}
