import { failMediaPurge, finishMediaPurge, getMediaPurge, pendingMediaPurges, type MediaPurge, type Pool } from '@switchyard/db';
import type { Logger } from '@switchyard/runtime';
import type { BlobStore } from './blob-store.ts';
import type { MediaMetrics } from './metrics.ts';
import { withSessionLock } from './session-lock.ts';

export interface MediaPurgeDeps {
  pool: Pool;
  store: BlobStore;
  logger: Logger;
  metrics: Pick<MediaMetrics, 'purgedObjects' | 'purges'>;
  /**
   * A deletion is purged this long after it, so the downloads in flight when the tenant was
   * deleted (its consumers stop first, but a download may still be storing) have ended.
   */
  delayMs: number;
}

export interface MediaPurgePassResult {
  purged: { tenant: string; objects: number }[];
  failed: { tenant: string; error: string }[];
  /** Held by another replica's pass at the moment, or finished by it since the listing. */
  busy: string[];
}

/**
 * One pass over the deleted tenants whose media is still stored (`tenant delete` records them in
 * `media_purges`): the objects under `<tenant>/` go, all of them, or only those written before a
 * tenant of the same id was provisioned again. A session advisory lock per deletion makes replicas
 * take turns; a failure is recorded on its row (`attempts`, `last_error`) and tried next pass.
 * `tenants` limits the pass to those (a targeted run; tests).
 */
export async function runMediaPurgePass(deps: MediaPurgeDeps, options: { now?: Date; tenants?: readonly string[] } = {}): Promise<MediaPurgePassResult> {
  const now = options.now ?? new Date();
  const result: MediaPurgePassResult = { purged: [], failed: [], busy: [] };
  const due = await pendingMediaPurges(deps.pool, new Date(now.getTime() - deps.delayMs), options.tenants);
  for (const purge of due) {
    try {
      const objects = await purgeOne(deps, purge);
      if (objects === undefined) {
        result.busy.push(purge.tenant);
        continue;
      }
      result.purged.push({ tenant: purge.tenant, objects });
      deps.metrics.purges.inc({ result: 'purged' });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      result.failed.push({ tenant: purge.tenant, error });
      deps.metrics.purges.inc({ result: 'failed' });
      deps.logger.error({ err, tenant: purge.tenant, deleted_at: purge.deletedAt.toISOString(), attempts: purge.attempts + 1 }, "removing a deleted tenant's media failed; the next pass tries again");
      await failMediaPurge(deps.pool, purge.id, error).catch((recordErr: unknown) =>
        deps.logger.error({ err: recordErr, tenant: purge.tenant }, 'recording a failed media purge failed'),
      );
    }
  }
  return result;
}

/** Removes one deleted tenant's objects; undefined when another replica holds it or has done it. */
async function purgeOne(deps: MediaPurgeDeps, purge: MediaPurge): Promise<number | undefined> {
  const held = await withSessionLock(deps.pool, `switchyard.media-purge.${purge.id}`, async () => {
    // Read again under the lock: another replica may have finished it since the listing, or a
    // tenant of the same id been provisioned.
    const current = await getMediaPurge(deps.pool, purge.id);
    if (current === undefined || current.purgedAt !== null) return undefined;
    const log = deps.logger.child({ tenant: purge.tenant, deleted_at: purge.deletedAt.toISOString() });
    // S3 keeps an object's time to the second: an object of the new tenant written in the second
    // it was provisioned must not look older than it (one of the old tenant's may be left instead).
    const before = current.recreatedAt === null ? undefined : new Date(Math.floor(current.recreatedAt.getTime() / 1000) * 1000);
    log.info({ recreated_at: before?.toISOString() }, before === undefined ? "removing a deleted tenant's media" : "removing a deleted tenant's media stored before the tenant was provisioned again");
    let reported = 0;
    const objects = await deps.store.deleteTenant(purge.tenant, before, (removed) => {
      deps.metrics.purgedObjects.inc(removed - reported);
      reported = removed;
      // A large tenant takes a while: say how far it got every 10,000 objects.
      if (removed > 0 && removed % 10_000 === 0) log.info({ removed }, "removing a deleted tenant's media: progress");
    });
    deps.metrics.purgedObjects.inc(objects - reported);
    await finishMediaPurge(deps.pool, purge.id, objects);
    log.info({ objects }, "a deleted tenant's media is removed");
    return objects;
  });
  return held.locked ? held.value : undefined;
}
