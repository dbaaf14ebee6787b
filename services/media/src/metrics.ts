import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from '@switchyard/runtime';

/** How far media is behind is its durables' lag in JetStream, which the chart's KEDA scaler reads. */
export interface MediaMetrics {
  jobsCreated: Counter<'tenant' | 'kind'>;
  downloads: Counter<'tenant' | 'kind' | 'result'>;
  downloadedBytes: Counter<'tenant' | 'kind'>;
  downloadSeconds: Histogram<'result'>;
  purges: Counter<'result'>;
  purgedObjects: Counter;
  purgesPending: Gauge;
  purgeOldestPendingSeconds: Gauge;
  expiredObjects: Counter<'tenant'>;
  retentionLastRun: Gauge;
}

/** Reads the process-wide download limiter at scrape time. */
export function registerDownloadSlots(registry: Registry, slots: { activeCount: number; pendingCount: number }): void {
  new Gauge({
    name: 'media_downloads_in_flight',
    help: 'Downloads running in this process (at most MEDIA_DOWNLOADS_IN_FLIGHT)',
    registers: [registry],
    collect() {
      this.set(slots.activeCount);
    },
  });
  new Gauge({
    name: 'media_downloads_waiting',
    help: 'Media jobs waiting for a download slot in this process',
    registers: [registry],
    collect() {
      this.set(slots.pendingCount);
    },
  });
}

export function mediaMetrics(registry: Registry): MediaMetrics {
  return {
    jobsCreated: new Counter({
      name: 'media_jobs_created_total',
      help: 'Media jobs recorded as pending (a redelivered event that finds its job already there is not counted)',
      labelNames: ['tenant', 'kind'],
      registers: [registry],
    }),
    downloads: new Counter({
      name: 'media_downloads_total',
      help: 'Media downloads by result: stored, retry (to be tried again), or the reason it failed for good (MEDIA_UNAVAILABLE, MEDIA_INTEGRITY, PAYLOAD_TOO_LARGE)',
      labelNames: ['tenant', 'kind', 'result'],
      registers: [registry],
    }),
    downloadedBytes: new Counter({
      name: 'media_stored_bytes_total',
      help: 'Decrypted bytes stored',
      labelNames: ['tenant', 'kind'],
      registers: [registry],
    }),
    downloadSeconds: new Histogram({
      name: 'media_download_duration_seconds',
      help: 'One media job from fetch to stored (or to its failure): fetch, decrypt, verify, store, publish media.stored',
      labelNames: ['result'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    }),
    purges: new Counter({
      name: 'media_purges_total',
      help: "Deleted tenants' media purges by result: purged (every object of the tenant removed) or failed (tried again next pass)",
      labelNames: ['result'],
      registers: [registry],
    }),
    purgedObjects: new Counter({
      name: 'media_purged_objects_total',
      help: 'Stored media objects removed because their tenant was deleted',
      registers: [registry],
    }),
    purgesPending: new Gauge({
      name: 'media_purges_pending',
      help: 'Deleted tenants whose media is still stored (media_purges rows not done), as of the last purge pass',
      registers: [registry],
    }),
    purgeOldestPendingSeconds: new Gauge({
      name: 'media_purge_oldest_pending_seconds',
      help: 'How long ago the oldest deleted tenant whose media is still stored was deleted (0 when none), as of the last purge pass',
      registers: [registry],
    }),
    expiredObjects: new Counter({
      name: 'media_expired_objects_total',
      help: "Stored media objects removed because their message passed the tenant's event retention",
      labelNames: ['tenant'],
      registers: [registry],
    }),
    retentionLastRun: new Gauge({
      name: 'media_retention_last_run_timestamp_seconds',
      help: 'When the last media retention pass ended (Unix seconds)',
      registers: [registry],
    }),
  };
}
