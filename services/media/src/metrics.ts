import { Counter } from 'prom-client';
import type { Registry } from '@switchyard/runtime';

// `media_backlog` (pending jobs per tenant) joins these once the download worker exists.
export interface MediaMetrics {
  jobsCreated: Counter<'tenant' | 'kind'>;
}

export function mediaMetrics(registry: Registry): MediaMetrics {
  return {
    jobsCreated: new Counter({
      name: 'media_jobs_created_total',
      help: 'Media jobs recorded as pending (a redelivered event that finds its job already there is not counted)',
      labelNames: ['tenant', 'kind'],
      registers: [registry],
    }),
  };
}
