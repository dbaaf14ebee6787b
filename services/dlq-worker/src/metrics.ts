import { Counter } from 'prom-client';
import type { Registry } from '@switchyard/runtime';

export interface DlqWorkerMetrics {
  recorded: Counter<'tenant' | 'reason'>;
}

export function dlqWorkerMetrics(registry: Registry): DlqWorkerMetrics {
  return {
    recorded: new Counter({
      name: 'dlq_events_total',
      help: 'DLQ records written to exhausted_events (redeliveries of one record count once), by table tenant and reason',
      labelNames: ['tenant', 'reason'],
      registers: [registry],
    }),
  };
}
