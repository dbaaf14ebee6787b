import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from '@switchyard/runtime';

export interface PersistenceMetrics {
  persisted: Counter<'tenant' | 'type' | 'duplicate'>;
  insertDuration: Histogram<'tenant'>;
  batchSize: Histogram<'tenant'>;
  batchesRewritten: Counter<'tenant'>;
  partitionsDropped: Counter<'tenant'>;
  retentionLastRun: Gauge;
  replayed: Counter<'tenant' | 'outcome'>;
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
      help: 'Time to store one batch (events, ids and state changes) in its tenant schema, commit included',
      labelNames: ['tenant'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'persistence_batch_size',
      help: 'Events per stored batch',
      labelNames: ['tenant'],
      buckets: [1, 5, 10, 50, 100, 250, 500, 1000, 2500],
      registers: [registry],
    }),
    batchesRewritten: new Counter({
      name: 'persistence_batches_rewritten_total',
      help: 'Batches whose one-statement write was undone (SQLSTATE SYB01: some ids were stored before, e.g. a redelivery) and written again in a transaction',
      labelNames: ['tenant'],
      registers: [registry],
    }),
    partitionsDropped: new Counter({
      name: 'events_retention_partitions_dropped_total',
      help: 'Monthly events partitions dropped by retention',
      labelNames: ['tenant'],
      registers: [registry],
    }),
    retentionLastRun: new Gauge({
      name: 'events_retention_last_run_timestamp_seconds',
      help: 'When the retention job last finished a pass over every tenant (unix seconds)',
      registers: [registry],
    }),
    replayed: new Counter({
      name: 'events_replayed_total',
      help: 'Events re-published to EVENTS by a replay, by outcome (replayed|failed)',
      labelNames: ['tenant', 'outcome'],
      registers: [registry],
    }),
  };
}
