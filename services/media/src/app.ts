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
 */
export function startMedia(config: MediaConfig, options: MediaOptions = {}): Promise<RunningService> {
  return startService({
    service: 'media',
    config,
    ...options,
    async wire(ctx) {
      const metrics = mediaMetrics(ctx.registry);
      await ctx.consumeTenants('events', () => recordMediaJobs({ pool: ctx.pool, logger: ctx.logger, metrics }), {
        maxDeliver: config.MEDIA_MAX_DELIVER,
        concurrency: config.MEDIA_CONCURRENCY,
        maxAckPending: config.MEDIA_CONCURRENCY * 4,
      });
    },
  });
}
