import { listEndpoints } from '@switchyard/db';
import { startService, type RunningService } from '@switchyard/service';
import type { Logger } from '@switchyard/runtime';
import { webhookMaxDeliver, type WebhookDispatchConfig } from './config.ts';
import { DeliveryLedger } from './delivery-ledger.ts';
import { dispatchEvent, SERVICE } from './dispatch-event.ts';
import { EndpointCache } from './endpoint-cache.ts';
import { webhookMetrics } from './metrics.ts';

export interface WebhookDispatchOptions {
  logger?: Logger;
  tenantBucket?: string;
}

/** Webhook dispatch: one durable per tenant on EVENTS, each event POSTed, signed, to the tenant's matching endpoints. */
export function startWebhookDispatch(config: WebhookDispatchConfig, options: WebhookDispatchOptions = {}): Promise<RunningService> {
  return startService({
    service: SERVICE,
    config,
    ...options,
    async wire(ctx) {
      const metrics = webhookMetrics(ctx.registry);
      const endpoints = new EndpointCache({
        ttlMs: config.WEBHOOK_ENDPOINT_CACHE_TTL,
        load: (tenant) => listEndpoints(ctx.pool, tenant, { enabledOnly: true }),
      });
      const maxDeliver = webhookMaxDeliver(config);
      await ctx.consumeTenants(
        'events',
        // A ledger per tenant: event ids are only unique within a tenant, and one tenant's
        // retries must never evict another's.
        () =>
          dispatchEvent({
            endpoints,
            ledger: new DeliveryLedger(),
            metrics,
            logger: ctx.logger,
            retryDelaysMs: config.WEBHOOK_RETRY_DELAYS,
            maxDeliver,
          }),
        // The same schedule applies when the handler throws (e.g. an unexpected database error).
        { maxDeliver, retryBackoffMs: config.WEBHOOK_RETRY_DELAYS },
      );
    },
  });
}
