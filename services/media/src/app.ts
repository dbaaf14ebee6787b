import { filterListsSupported } from '@switchyard/nats';
import { eventsTypeFilter, MEDIA_BEARING_TYPES } from '@switchyard/schema';
import { startService, type RunningService } from '@switchyard/service';
import type { Logger } from '@switchyard/runtime';
import type { MediaConfig } from './config.ts';
import { mediaMetrics } from './metrics.ts';
import { recordMediaJobs } from './record-media-jobs.ts';

export interface MediaOptions {
  logger?: Logger;
  tenantBucket?: string;
}

/**
 * The media service: one durable per tenant on EVENTS; media-bearing events become pending jobs.
 * Fetching, decrypting, verifying and storing the blobs will hang off those jobs.
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
    ...options,
    async wire(ctx) {
      const metrics = mediaMetrics(ctx.registry);
      const filterSubjectsFor = filterListsSupported(ctx.nc.info?.version)
        ? (tenant: string) => MEDIA_BEARING_TYPES.map((type) => eventsTypeFilter(tenant, type))
        : undefined;
      await ctx.consumeTenants('events', () => recordMediaJobs({ pool: ctx.pool, logger: ctx.logger, metrics }), {
        ...(filterSubjectsFor ? { filterSubjectsFor } : {}),
        maxDeliver: config.MEDIA_MAX_DELIVER,
        concurrency: config.MEDIA_CONCURRENCY,
        maxAckPending: config.MEDIA_CONCURRENCY * 4,
      });
    },
  });
}
