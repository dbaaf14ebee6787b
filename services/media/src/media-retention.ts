import { forTenant, listTenants, retainedFrom, type Pool } from '@switchyard/db';
import type { Logger } from '@switchyard/runtime';
import type { BlobStore } from './blob-store.ts';
import type { MediaMetrics } from './metrics.ts';
import { withSessionLock } from './session-lock.ts';

/** Jobs (and their objects) removed per round: one S3 DeleteObjects request. */
const SLICE = 1_000;

export interface MediaRetentionDeps {
  pool: Pool;
  store: BlobStore;
  logger: Logger;
  metrics: Pick<MediaMetrics, 'expiredObjects' | 'retentionLastRun'>;
}

/**
 * Removes the media of `tenant`'s messages that its event retention dropped (or will drop on
 * persistence's next pass): objects first, then their jobs, a slice at a time, so a crash between
 * the two leaves jobs whose objects are already gone, removed again harmlessly next pass. Jobs
 * still pending wait until they end. Answers how many objects went.
 */
export async function expireTenantMedia(deps: MediaRetentionDeps, tenant: string, retentionDays: number, now = new Date()): Promise<number> {
  const from = retainedFrom(retentionDays, now);
  if (from === undefined) return 0;
  const db = forTenant(deps.pool, tenant);
  let removed = 0;
  let rounds = 0;
  for (;;) {
    const { rows } = await db.query<{ event_id: string; storage_url: string | null }>(
      `SELECT event_id, storage_url FROM :SCHEMA.media_jobs
        WHERE occurred_at < $1 AND status <> 'pending' ORDER BY occurred_at LIMIT ${SLICE}`,
      [from],
    );
    if (rows.length === 0) break;
    const stored = rows.flatMap((r) => (r.storage_url === null ? [] : [r.storage_url]));
    const urls = stored.filter((url) => deps.store.holds(url));
    // Stored in another store (MEDIA_STORE or the bucket changed since): this service cannot reach
    // it. The jobs still go, or they would come back every slice; the log keeps where they were.
    const elsewhere = stored.filter((url) => !deps.store.holds(url));
    if (elsewhere.length > 0) {
      deps.logger.warn({ tenant, count: elsewhere.length, urls: elsewhere.slice(0, 20) }, "media retention: objects past the tenant's retention are in another store than this service's; remove them there");
    }
    await deps.store.delete(urls);
    await db.query(`DELETE FROM :SCHEMA.media_jobs WHERE event_id = ANY($1) AND status <> 'pending'`, [rows.map((r) => r.event_id)]);
    removed += urls.length;
    deps.metrics.expiredObjects.inc({ tenant }, urls.length);
    if (rows.length < SLICE) break;
    // A first pass over a large tenant takes a while: say how far it got every 10 slices.
    if (++rounds % 10 === 0) deps.logger.info({ tenant, removed }, 'media retention: progress');
  }
  if (removed > 0) deps.logger.info({ tenant, removed, retained_from: from.toISOString() }, "media retention removed the media of messages past the tenant's retention");
  return removed;
}

/**
 * A pass over every tenant that keeps events for a limited time. Replicas take turns on a tenant
 * (a session advisory lock); one tenant's failure is logged and the others still run.
 */
export async function runMediaRetentionPass(deps: MediaRetentionDeps, now = new Date()): Promise<{ tenant: string; removed: number }[]> {
  const results: { tenant: string; removed: number }[] = [];
  for (const tenant of await listTenants(deps.pool)) {
    if (tenant.retentionDays <= 0) continue;
    try {
      const held = await withSessionLock(deps.pool, `switchyard.media-retention.${tenant.id}`, () => expireTenantMedia(deps, tenant.id, tenant.retentionDays, now));
      if (held.locked) results.push({ tenant: tenant.id, removed: held.value });
    } catch (err) {
      deps.logger.error({ err, tenant: tenant.id }, 'media retention failed for a tenant; the next pass tries again');
    }
  }
  deps.metrics.retentionLastRun.set(Date.now() / 1000);
  return results;
}
