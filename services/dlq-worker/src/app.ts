import { startService, type RunningService } from '@switchyard/service';
import type { Logger } from '@switchyard/runtime';
import { STREAMS } from '@switchyard/schema';
import type { DlqWorkerConfig } from './config.ts';
import { registerExhaustedRoutes } from './exhausted-routes.ts';
import { dlqWorkerMetrics } from './metrics.ts';
import { recordDeadLetter } from './record-dead-letter.ts';

export interface DlqWorkerOptions {
  logger?: Logger;
  tenantBucket?: string;
}

/**
 * The dlq-worker: one durable per tenant on DLQ (plus the system DLQ), each record written to
 * `exhausted_events`, and the SRE API to inspect, requeue and discard them.
 */
export function startDlqWorker(config: DlqWorkerConfig, options: DlqWorkerOptions = {}): Promise<RunningService> {
  return startService({
    service: 'dlq-worker',
    config,
    openapi: { title: 'Switchyard dlq-worker', version: '1.0.0', description: 'Inspect, requeue and discard exhausted events' },
    ...options,
    async wire(ctx) {
      const metrics = dlqWorkerMetrics(ctx.registry);
      registerExhaustedRoutes(ctx.http, { pool: ctx.pool, js: ctx.js });
      // Postgres is the only sink, so nothing is ever dead-lettered from here: maxDeliver -1
      // retries with backoff for as long as it takes. The kit's DLQ consumers always include the
      // system tenant (`v1.dlq._system`, which no tenant announces), stopped with the others.
      await ctx.consumeTenants('dlq', () => recordDeadLetter({ pool: ctx.pool, logger: ctx.logger, metrics, stream: STREAMS.dlq }), {
        maxDeliver: -1,
        retryBackoffMs: config.DLQ_RETRY_BACKOFF,
      });
    },
  });
}
