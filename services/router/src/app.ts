import { startCatchAllConsumer, startTenantBatchConsumers } from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import { durableName, STREAM_SUBJECTS, STREAMS, SYSTEM_TENANT } from '@switchyard/schema';
import { startService, type RunningService } from '@switchyard/service';
import type { RouterConfig } from './config.ts';
import { classifyIngestSubject, historyFilter, ingestLayoutFor, realtimeFilters } from './ingest-ownership.ts';
import { routerMetrics } from './metrics.ts';
import { routeIngest, routeIngestBatch } from './route-ingest.ts';
import { sequenceGapTracker } from './sequence-gaps.ts';

/** The KV bucket of the realtime partition leases (and the router replicas' heartbeats). */
export const REALTIME_PARTITION_BUCKET = 'switchyard_router_partitions';

export interface RouterOptions {
  logger?: Logger;
  tenantBucket?: string;
}

/**
 * The router: per tenant, a realtime and a history durable on INGEST, every event validated
 * before it reaches EVENTS, plus one catch-all durable for subjects neither reads
 * (ingest-ownership.ts). A tenant's realtime durable is read only by the replica owning the
 * tenant's partition (ownership leases in NATS KV), many messages at a time.
 */
export function startRouter(config: RouterConfig, options: RouterOptions = {}): Promise<RunningService> {
  return startService({
    service: 'router',
    config,
    ...options,
    async wire(ctx) {
      const metrics = routerMetrics(ctx.registry);
      const layout = config.ROUTER_INGEST_LAYOUT === 'auto' ? ingestLayoutFor(ctx.nc.info?.version) : config.ROUTER_INGEST_LAYOUT;
      if (layout === 'single') {
        ctx.logger.warn({ server: ctx.nc.info?.version, setting: config.ROUTER_INGEST_LAYOUT }, 'one INGEST durable per tenant: history batches share the realtime durable');
      }
      const catchAll = startCatchAllConsumer({
        js: ctx.js,
        jsm: ctx.jsm,
        stream: STREAMS.ingest,
        durable: durableName('router', SYSTEM_TENANT),
        filterSubject: STREAM_SUBJECTS.ingest[0] ?? 'v1.ingest.>',
        service: 'router',
        classify: (subject) => classifyIngestSubject(subject, layout),
        logger: ctx.logger,
        onDeadLetter: ({ tenant, reason }) => metrics.rejected.inc({ tenant, reason }),
      });
      ctx.onShutdown('stop-intake', 'ingest catch-all', () => catchAll.stop());
      const route = { js: ctx.js, logger: ctx.logger, metrics, maxPayloadBytes: config.ROUTER_MAX_PAYLOAD_BYTES };
      // Realtime: one reader per tenant across replicas — the owner of the tenant's partition —
      // so order per instance holds with many messages in flight (docs/architecture.md, "The router").
      const ownership = await ctx.ownPartitions({
        bucket: REALTIME_PARTITION_BUCKET,
        name: 'router-realtime',
        partitions: config.ROUTER_PARTITIONS,
        ttlMs: config.ROUTER_LEASE_TTL,
        rebalanceIntervalMs: config.ROUTER_REBALANCE_INTERVAL,
      });
      // No batch wait: under load the next batch gathers while this one's PubAcks are awaited;
      // a quiet tenant's single event goes at once.
      const realtime = await startTenantBatchConsumers({
        js: ctx.js,
        jsm: ctx.jsm,
        service: 'router',
        kind: 'ingest',
        logger: ctx.logger,
        registry: ctx.registry,
        ownership,
        // A fresh handler per start, so its per-instance state never outlives an ownership period.
        handlerFor: () =>
          routeIngestBatch({
            ...route,
            nc: ctx.nc,
            atomicMinMessages: config.ROUTER_BATCH_SIZE,
            maxDeliver: config.ROUTER_MAX_DELIVER,
            gaps: sequenceGapTracker({ jsm: ctx.jsm, logger: ctx.logger, gaps: metrics.gaps }),
          }),
        ...(layout === 'split' ? { filterSubjectsFor: realtimeFilters } : {}),
        batchSize: config.ROUTER_BATCH_SIZE,
        maxWaitMs: 0,
        maxAckPending: config.ROUTER_MAX_ACK_PENDING,
        ackWaitMs: config.ROUTER_ACK_WAIT,
        maxDeliver: config.ROUTER_MAX_DELIVER,
        ...(options.tenantBucket !== undefined ? { bucket: options.tenantBucket } : {}),
      });
      ctx.onShutdown('stop-intake', 'realtime ingest consumers', () => realtime.stop());
      if (layout === 'single') return;
      // History batches have their own durable, so a 10,000-message import runs beside the
      // tenant's realtime events instead of in front of them. Batches are self-contained
      // snapshots, upserted by id downstream, so they need no order and run several at a time;
      // each one is retried until it lands or is dead-lettered (never dropped).
      await ctx.consumeTenants('ingest', () => routeIngest(route), {
        maxDeliver: config.ROUTER_MAX_DELIVER,
        concurrency: config.ROUTER_HISTORY_CONCURRENCY,
        maxAckPending: config.ROUTER_HISTORY_CONCURRENCY * 8,
        filterSubjectsFor: (tenant) => [historyFilter(tenant)],
        durableFor: (tenant) => durableName('router-history', tenant),
      });
    },
  });
}
