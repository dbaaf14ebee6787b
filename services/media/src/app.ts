import pLimit from 'p-limit';
import { Agent } from 'undici';
import { filterListsSupported } from '@switchyard/nats';
import { eventsTypeFilter, MEDIA_BEARING_TYPES } from '@switchyard/schema';
import { startService, type RunningService } from '@switchyard/service';
import { mediaPurgeBacklog } from '@switchyard/db';
import { runPeriodically, type Logger } from '@switchyard/runtime';
import { fsBlobStore, s3BlobStore, type BlobStore, type S3BlobStoreOptions } from './blob-store.ts';
import type { MediaConfig } from './config.ts';
import { mediaDownloader } from './media-download.ts';
import { runMediaPurgePass } from './media-purge.ts';
import { runMediaRetentionPass } from './media-retention.ts';
import { handleMediaEvents } from './media-events.ts';
import { registerMediaRoutes } from './media-routes.ts';
import { mediaMetrics, registerDownloadSlots } from './metrics.ts';

export interface MediaOptions {
  logger?: Logger;
  tenantBucket?: string;
  /** Tests: S3 credentials, instead of the AWS SDK's default chain. */
  s3Credentials?: S3BlobStoreOptions['credentials'];
}

/**
 * The media service: one durable per tenant on EVENTS. Each media-bearing event's blob is
 * fetched from the media host, decrypted and verified, stored (S3 or a directory), and announced
 * as `media.stored` on INGEST, which persistence records against the message.
 *
 * The durable reads only the types that can carry media (`MEDIA_BEARING_TYPES`, one filter each):
 * receipts, presence, reactions and the rest, most of a WhatsApp number's traffic, never reach
 * this service. A server older than 2.10 (no filter lists) delivers every event, and the handler
 * acks those untouched.
 */
export function startMedia(config: MediaConfig, options: MediaOptions = {}): Promise<RunningService> {
  return startService({
    service: 'media',
    config,
    openapi: { title: 'Switchyard media', version: '1.0.0', description: "A tenant's media: job state and the decrypted bytes" },
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
    ...(options.tenantBucket !== undefined ? { tenantBucket: options.tenantBucket } : {}),
    async wire(ctx) {
      const metrics = mediaMetrics(ctx.registry);
      const store = blobStoreFor(config, options);
      const dispatcher = new Agent({ connections: config.MEDIA_DOWNLOADS_IN_FLIGHT });
      ctx.onShutdown('close', 'media store and HTTP client', async () => {
        store.close();
        await dispatcher.close();
      });
      registerMediaRoutes(ctx.http, ctx.pool, store, { urlTtlMs: config.MEDIA_URL_TTL });
      const downloadNow = mediaDownloader({
        store,
        dispatcher,
        baseUrl: new URL(config.MEDIA_DOWNLOAD_BASE_URL),
        timeoutMs: config.MEDIA_DOWNLOAD_TIMEOUT,
        maxBytes: config.MEDIA_MAX_BYTES,
        workDir: config.MEDIA_WORK_DIR,
      });
      // One bound for every tenant's downloads; the download timeout starts once a slot is had.
      const slots = pLimit(config.MEDIA_DOWNLOADS_IN_FLIGHT);
      registerDownloadSlots(ctx.registry, slots);
      const download: typeof downloadNow = (tenant, job) => slots(() => downloadNow(tenant, job));
      const filterSubjectsFor = filterListsSupported(ctx.nc.info?.version)
        ? (tenant: string) => MEDIA_BEARING_TYPES.map((type) => eventsTypeFilter(tenant, type))
        : undefined;
      await ctx.consumeTenants('events', () => handleMediaEvents({ pool: ctx.pool, js: ctx.js, logger: ctx.logger, metrics, download }), {
        ...(filterSubjectsFor ? { filterSubjectsFor } : {}),
        maxDeliver: config.MEDIA_MAX_DELIVER,
        ackWaitMs: config.MEDIA_ACK_WAIT,
        concurrency: config.MEDIA_CONCURRENCY,
        maxAckPending: config.MEDIA_CONCURRENCY * 4,
      });
      // Deleted tenants' media: `tenant delete` cannot reach the store, so it leaves a row for this.
      const purgeDeps = { pool: ctx.pool, store, logger: ctx.logger, metrics, delayMs: config.MEDIA_PURGE_DELAY };
      const purge = runPeriodically(
        async () => {
          await runMediaPurgePass(purgeDeps);
          const backlog = await mediaPurgeBacklog(ctx.pool);
          metrics.purgesPending.set(backlog.pending);
          metrics.purgeOldestPendingSeconds.set(backlog.oldest === null ? 0 : Math.max(0, (Date.now() - backlog.oldest.getTime()) / 1000));
        },
        config.MEDIA_PURGE_INTERVAL,
        (err) => ctx.logger.error({ err }, 'media purge pass failed; the next one tries again'),
      );
      ctx.onShutdown('stop-intake', 'media purge', () => purge.stop());
      // The media of messages past their tenant's retention_days, as persistence drops the messages.
      const retention = runPeriodically(
        () => runMediaRetentionPass({ pool: ctx.pool, store, logger: ctx.logger, metrics }),
        config.MEDIA_RETENTION_INTERVAL,
        (err) => ctx.logger.error({ err }, 'media retention pass failed; the next one tries again'),
      );
      ctx.onShutdown('stop-intake', 'media retention', () => retention.stop());
    },
  });
}

function blobStoreFor(config: MediaConfig, options: MediaOptions): BlobStore {
  if (config.MEDIA_STORE === 'fs') return fsBlobStore(config.MEDIA_FS_DIR);
  return s3BlobStore({
    bucket: config.MEDIA_S3_BUCKET,
    region: config.MEDIA_S3_REGION,
    endpoint: config.MEDIA_S3_ENDPOINT === '' ? undefined : config.MEDIA_S3_ENDPOINT,
    forcePathStyle: config.MEDIA_S3_FORCE_PATH_STYLE,
    prefix: config.MEDIA_S3_PREFIX,
    ...(options.s3Credentials !== undefined ? { credentials: options.s3Credentials } : {}),
  });
}
