import { listTenants } from '@switchyard/db';
import { startTenantBatchConsumers } from '@switchyard/nats';
import { runPeriodically, type Logger } from '@switchyard/runtime';
import { startService, type RunningService } from '@switchyard/service';
import type { PersistenceConfig } from './config.ts';
import { registerEventRoutes } from './events-routes.ts';
import { persistenceMetrics } from './metrics.ts';
import { persistBatch } from './persist-batch.ts';
import { registerReplayRoutes, ReplayJobs } from './replay-routes.ts';
import { runRetentionPass } from './retention.ts';
import { registerStateRoutes } from './state-routes.ts';

export interface PersistenceOptions {
  logger?: Logger;
  tenantBucket?: string;
}

/**
 * Persistence: one durable per tenant on EVENTS, consumed in batches, each batch stored in its
 * tenant's schema in one transaction; the query, replay and retention around that log.
 */
export function startPersistence(config: PersistenceConfig, options: PersistenceOptions = {}): Promise<RunningService> {
  return startService({
    service: 'persistence',
    config,
    openapi: { title: 'Switchyard persistence', version: '1.0.0', description: "Query, replay and read the state of a tenant's persisted events" },
    ...options,
    async wire(ctx) {
      const metrics = persistenceMetrics(ctx.registry);
      const replayDeps = { pool: ctx.pool, js: ctx.js, logger: ctx.logger, metrics };
      const jobs = new ReplayJobs(replayDeps);
      registerEventRoutes(ctx.http, ctx.pool);
      registerStateRoutes(ctx.http, ctx.pool);
      registerReplayRoutes(ctx.http, replayDeps, jobs, {
        defaultLimit: config.PERSISTENCE_REPLAY_LIMIT,
        maxLimit: config.PERSISTENCE_REPLAY_MAX_LIMIT,
        inlineMax: config.PERSISTENCE_REPLAY_INLINE_MAX,
      });
      // Jobs a dead or drained replica left behind are resumed by whichever replica scans next.
      jobs.resumeEvery(async () => (await listTenants(ctx.pool)).map((t) => t.id));
      ctx.onShutdown('stop-intake', 'replay jobs', () => jobs.stop());

      const retention = runPeriodically(
        () => runRetentionPass({ pool: ctx.pool, logger: ctx.logger, metrics, partitionsAhead: config.PERSISTENCE_PARTITIONS_AHEAD }),
        config.PERSISTENCE_RETENTION_INTERVAL,
        (err) => ctx.logger.error({ err }, 'retention pass failed'),
      );
      ctx.onShutdown('stop-intake', 'retention', () => retention.stop());

      // One batch at a time per tenant durable keeps each instance's events in stream order.
      const consumers = await startTenantBatchConsumers({
        js: ctx.js,
        jsm: ctx.jsm,
        service: 'persistence',
        kind: 'events',
        handlerFor: () => persistBatch({ pool: ctx.pool, logger: ctx.logger, metrics }),
        logger: ctx.logger,
        registry: ctx.registry,
        batchSize: config.PERSISTENCE_BATCH_SIZE,
        maxWaitMs: config.PERSISTENCE_BATCH_WAIT,
        maxDeliver: config.PERSISTENCE_MAX_DELIVER,
        retryBackoffMs: config.PERSISTENCE_RETRY_BACKOFF,
        ackWaitMs: config.PERSISTENCE_ACK_WAIT,
        ...(options.tenantBucket !== undefined ? { bucket: options.tenantBucket } : {}),
      });
      ctx.onShutdown('stop-intake', 'events consumers', () => consumers.stop());
    },
  });
}
