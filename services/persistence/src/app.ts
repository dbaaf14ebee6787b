import { startService, type RunningService } from '@switchyard/service';
import type { Logger } from '@switchyard/runtime';
import type { PersistenceConfig } from './config.ts';
import { registerEventRoutes } from './events-routes.ts';
import { persistenceMetrics } from './metrics.ts';
import { persistEvent } from './persist-event.ts';

export interface PersistenceOptions {
  logger?: Logger;
  tenantBucket?: string;
}

/** Persistence: one durable per tenant on EVENTS, each event stored once in its tenant's schema. */
export function startPersistence(config: PersistenceConfig, options: PersistenceOptions = {}): Promise<RunningService> {
  return startService({
    service: 'persistence',
    config,
    openapi: { title: 'Switchyard persistence', version: '1.0.0', description: "Read a tenant's persisted events" },
    ...options,
    async wire(ctx) {
      const metrics = persistenceMetrics(ctx.registry);
      registerEventRoutes(ctx.http, ctx.pool);
      // Concurrency stays 1 (the default): events of one instance must be stored in order.
      await ctx.consumeTenants('events', () => persistEvent({ pool: ctx.pool, logger: ctx.logger, metrics }), {
        maxDeliver: config.PERSISTENCE_MAX_DELIVER,
        retryBackoffMs: config.PERSISTENCE_RETRY_BACKOFF,
      });
    },
  });
}
