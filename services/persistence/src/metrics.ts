import { Counter, Histogram } from 'prom-client';
import type { Registry } from '@switchyard/runtime';

export interface PersistenceMetrics {
  persisted: Counter<'tenant' | 'type' | 'duplicate'>;
  insertDuration: Histogram<'tenant'>;
}

export function persistenceMetrics(registry: Registry): PersistenceMetrics {
  return {
    persisted: new Counter({
      name: 'events_persisted_total',
      help: 'EVENTS messages written to their tenant schema; duplicate="true" when the id was already stored',
      labelNames: ['tenant', 'type', 'duplicate'],
      registers: [registry],
    }),
    insertDuration: new Histogram({
      name: 'persistence_insert_duration_seconds',
      help: 'Time to insert one event into its tenant schema, commit included',
      labelNames: ['tenant'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
}
