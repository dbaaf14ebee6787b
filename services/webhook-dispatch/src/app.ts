import { listEndpoints } from '@switchyard/db';
import { DEFAULT_RETRY_BACKOFF_MS, ensureStream, startTenantBatchConsumers, webhooksStreamConfig } from '@switchyard/nats';
import { startService, type RunningService } from '@switchyard/service';
import { runPeriodically, type Logger } from '@switchyard/runtime';
import type { WebhookDispatchConfig } from './config.ts';
import { SERVICE } from './deliver-endpoint.ts';
import { DeliveryLog } from './delivery-log.ts';
import { registerDeliveryRoutes } from './delivery-routes.ts';
import { EndpointCache } from './endpoint-cache.ts';
import { registerEndpointRoutes } from './endpoint-routes.ts';
import { EndpointWorkers } from './endpoint-workers.ts';
import { fanOut } from './fan-out.ts';
import { runLogRetentionPass } from './log-retention.ts';
import { webhookMetrics } from './metrics.ts';

const FAN_OUT_MAX_DELIVER = 100;
/** Leases of the fan-out's tenant partitions (and with them the tenants' endpoint workers). */
export const FAN_OUT_PARTITION_BUCKET = 'switchyard_webhook_partitions';

export interface WebhookDispatchOptions {
  logger?: Logger;
  tenantBucket?: string;
}

/**
 * Webhook dispatch, in two stages so one endpoint never affects another:
 * 1. fan-out — one durable per tenant on EVENTS, read in batches by the replica owning the
 *    tenant's partition, publishes a delivery per matching endpoint to WEBHOOKS
 *    (`v1.webhooks.<tenant>.<endpoint>.<instance>`);
 * 2. delivery — one durable per endpoint on WEBHOOKS, run by the same owner, POSTs, signed, in per-instance order,
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
      const log = new DeliveryLog(ctx.pool, { attemptWaitMs: config.WEBHOOK_LOG_BATCH_WAIT });
      const endpoints = new EndpointCache({
        ttlMs: config.WEBHOOK_ENDPOINT_CACHE_TTL,
        load: (tenant) => listEndpoints(ctx.pool, tenant, { enabledOnly: true }),
      });
      // One replica at a time fans out and delivers a tenant's events — the owner of the tenant's
      // partition — so order per instance holds with many events in flight (docs/architecture.md).
      const ownership = await ctx.ownPartitions({
        bucket: FAN_OUT_PARTITION_BUCKET,
        name: 'webhook-dispatch',
        partitions: config.WEBHOOK_PARTITIONS,
        ttlMs: config.WEBHOOK_LEASE_TTL,
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
        owns: (tenant) => ownership.ownsName(tenant),
        handedOver: (tenant) => ownership.handedOverName(tenant),
        onEndpointChanged: (tenant) => endpoints.invalidate(tenant),
      });
      // A partition given up stops its tenants' endpoint workers before the lease goes (listeners
      // are awaited); one acquired gets them at once rather than at the next periodic reconcile.
      ownership.listen(async (change) => {
        if (change.kind === 'released') await workers.stopUnowned();
        else workers.reconcileAll().catch((err: unknown) => ctx.logger.error({ err }, 'endpoint reconcile failed'));
      });
      // Registered before the fan-out consumers, so on shutdown both stop together (stop-intake
      // runs its steps side by side) and waiting deliveries are handed back, not waited out.
      ctx.onShutdown('stop-intake', 'endpoint workers', () => workers.stop());
      // -1 would turn dead-letters into retries; a fan-out only fails on NATS or Postgres trouble.
      const maxDeliver = FAN_OUT_MAX_DELIVER;
      const retryBackoffMs = [...DEFAULT_RETRY_BACKOFF_MS];
      // Order per instance into WEBHOOKS needs one reader per tenant across replicas: the owner
      // of the tenant's partition, started after the takeover fence, stopped before the lease goes.
      const fanOutConsumers = await startTenantBatchConsumers({
        js: ctx.js,
        jsm: ctx.jsm,
        service: SERVICE,
        kind: 'events',
        logger: ctx.logger,
        registry: ctx.registry,
        ownership,
        // A fresh handler per start, so its per-instance holds never outlive an ownership period.
        handlerFor: () => fanOut({ js: ctx.js, nc: ctx.nc, endpoints, workers, metrics, logger: ctx.logger, maxDeliver, retryBackoffMs }),
        batchSize: config.WEBHOOK_FANOUT_BATCH_SIZE,
        maxWaitMs: config.WEBHOOK_FANOUT_BATCH_WAIT,
        maxDeliver,
        retryBackoffMs,
        ackWaitMs: config.WEBHOOK_ACK_WAIT,
        ...(options.tenantBucket !== undefined ? { bucket: options.tenantBucket } : {}),
      });
      ctx.onShutdown('stop-intake', 'fan-out consumers', () => fanOutConsumers.stop());
      tenants = () => fanOutConsumers.tenants();
      await workers.reconcileAll();
      workers.start(Math.max(config.WEBHOOK_ENDPOINT_CACHE_TTL, 1_000));
      const changed = async (tenant: string): Promise<void> => {
        endpoints.invalidate(tenant);
        await workers.reconcile(tenant);
      };
      if (config.WEBHOOK_LOG_RETENTION > 0) {
        const retention = runPeriodically(
          () => runLogRetentionPass({ pool: ctx.pool, logger: ctx.logger, metrics, retentionMs: config.WEBHOOK_LOG_RETENTION, owns: (tenant) => ownership.ownsName(tenant) }),
          config.WEBHOOK_LOG_RETENTION_INTERVAL,
          (err) => ctx.logger.error({ err }, 'delivery log retention pass failed'),
        );
        ctx.onShutdown('stop-intake', 'delivery log retention', () => retention.stop());
      }
      registerEndpointRoutes(ctx.http, { pool: ctx.pool, allow: config.WEBHOOK_ALLOWED_HOSTS, changed });
      registerDeliveryRoutes(ctx.http, { pool: ctx.pool, js: ctx.js, jsm: ctx.jsm, log });
    },
  });
}
