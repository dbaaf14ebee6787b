import { listEndpoints } from '@switchyard/db';
import { ensureStream, webhooksStreamConfig } from '@switchyard/nats';
import { startService, type RunningService } from '@switchyard/service';
import type { Logger } from '@switchyard/runtime';
import type { WebhookDispatchConfig } from './config.ts';
import { SERVICE } from './deliver-endpoint.ts';
import { DeliveryLog } from './delivery-log.ts';
import { registerDeliveryRoutes } from './delivery-routes.ts';
import { EndpointCache } from './endpoint-cache.ts';
import { registerEndpointRoutes } from './endpoint-routes.ts';
import { EndpointWorkers } from './endpoint-workers.ts';
import { fanOut } from './fan-out.ts';
import { webhookMetrics } from './metrics.ts';

export interface WebhookDispatchOptions {
  logger?: Logger;
  tenantBucket?: string;
}

/**
 * Webhook dispatch, in two stages so one endpoint never affects another:
 * 1. fan-out — one durable per tenant on EVENTS publishes a delivery per matching endpoint to
 *    WEBHOOKS (`v1.webhooks.<tenant>.<endpoint>.<instance>`);
 * 2. delivery — one durable per endpoint on WEBHOOKS POSTs, signed, in per-instance order,
 *    retrying on the endpoint's schedule behind its circuit breaker and limits, logging every
 *    attempt in the tenant's schema, dead-lettering after the last.
 * Plus the endpoint and delivery-log API.
 */
export function startWebhookDispatch(config: WebhookDispatchConfig, options: WebhookDispatchOptions = {}): Promise<RunningService> {
  return startService({
    service: SERVICE,
    config,
    openapi: { title: 'Switchyard webhook-dispatch', version: '1.0.0', description: 'Webhook endpoints, delivery log and re-sends' },
    ...options,
    async wire(ctx) {
      await ensureStream(ctx.jsm, webhooksStreamConfig());
      const metrics = webhookMetrics(ctx.registry);
      const log = new DeliveryLog(ctx.pool);
      const endpoints = new EndpointCache({
        ttlMs: config.WEBHOOK_ENDPOINT_CACHE_TTL,
        load: (tenant) => listEndpoints(ctx.pool, tenant, { enabledOnly: true }),
      });
      let tenants: () => string[] = () => [];
      const workers = new EndpointWorkers({
        js: ctx.js,
        jsm: ctx.jsm,
        pool: ctx.pool,
        logger: ctx.logger,
        registry: ctx.registry,
        metrics,
        config,
        log,
        tenants: () => tenants(),
        onEndpointChanged: (tenant) => endpoints.invalidate(tenant),
      });
      // Registered before the fan-out consumers, so on shutdown both stop together (stop-intake
      // runs its steps side by side) and waiting deliveries are handed back, not waited out.
      ctx.onShutdown('stop-intake', 'endpoint workers', () => workers.stop());
      const fanOutConsumers = await ctx.consumeTenants('events', () => fanOut({ js: ctx.js, endpoints, workers, metrics, logger: ctx.logger }), {
        // -1 would turn dead-letters into retries; a fan-out only fails on NATS or Postgres trouble.
        maxDeliver: 100,
      });
      tenants = () => fanOutConsumers.tenants();
      await workers.reconcileAll();
      workers.start(Math.max(config.WEBHOOK_ENDPOINT_CACHE_TTL, 1_000));
      const changed = async (tenant: string): Promise<void> => {
        endpoints.invalidate(tenant);
        await workers.reconcile(tenant);
      };
      registerEndpointRoutes(ctx.http, { pool: ctx.pool, allow: config.WEBHOOK_ALLOWED_HOSTS, changed });
      registerDeliveryRoutes(ctx.http, { pool: ctx.pool, js: ctx.js, jsm: ctx.jsm, log });
    },
  });
}
