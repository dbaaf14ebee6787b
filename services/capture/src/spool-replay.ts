import { forTenant, type Pool, type TenantQueryable } from '@switchyard/db';
import type { Logger } from '@switchyard/runtime';
import type { CaptureMetrics } from './metrics.ts';
import { SPOOL_CONFLICT, spoolConsumed, storeInOutbox } from './outbox.ts';
import { deadSpools, readSpoolPage, removeSpool, type SpoolFile } from './spool.ts';

/**
 * Stores the part of a dead spool file that never reached the outbox (past its recorded
 * `consumed` offset), in file order, each page in one statement that allocates its seqs and
 * moves the offset (compare-and-set: a concurrent replayer of the same file makes this one skip
 * what the other stored). Returns how many events it stored.
 */
export async function replaySpool(
  db: TenantQueryable,
  file: SpoolFile,
  options: { maxBatch: number; logger: Logger },
): Promise<number> {
  let consumed = await spoolConsumed(db, file.instance, file.name);
  let stored = 0;
  for (;;) {
    const { records, torn } = readSpoolPage(file.path, consumed, options.maxBatch);
    const last = records[records.length - 1];
    if (last === undefined) {
      // The process died inside its last write: that enqueue never returned, nothing was promised.
      if (torn) options.logger.warn({ spool: file.name, at: consumed }, 'spool ends in a torn record; ignored');
      return stored;
    }
    const result = await storeInOutbox(
      db,
      file.instance,
      records.map((r) => r.entry),
      { spool: { spool: file.name, from: consumed, to: last.end } },
    );
    if (result === SPOOL_CONFLICT) {
      consumed = await spoolConsumed(db, file.instance, file.name);
      continue;
    }
    consumed = last.end;
    stored += records.length;
  }
}

/** Replays and deletes the dead spools of one instance (before its publisher writes anything). */
export async function replayInstanceSpools(
  db: TenantQueryable,
  dir: string,
  tenant: string,
  instance: string,
  options: { maxBatch: number; logger: Logger; metrics: CaptureMetrics },
): Promise<number> {
  let total = 0;
  for (const file of deadSpools(dir, tenant, instance)) {
    const stored = await replaySpool(db, file, options);
    removeSpool(file, dir);
    total += stored;
    if (stored > 0) {
      options.metrics.spoolReplayed.inc({ tenant, instance }, stored);
      options.logger.warn({ tenant, instance, spool: file.name, stored }, 'replayed spooled events into the outbox');
    }
  }
  return total;
}

/**
 * At startup: replays every dead spool in `dir` of a tenant this deployment serves, whichever
 * replica now owns the instance. The outbox is shared and the seq is allocated in Postgres, so
 * storing them here is safe wherever the session runs; its owner relays them (at its start, or on
 * noticing the seqs it did not allocate). Leaving them for a session this replica may never run
 * again would leave them stranded on this disk. A spool of an unknown tenant is left alone.
 */
export async function recoverSpools(options: {
  dir: string;
  pool: Pool;
  tenants: readonly string[];
  logger: Logger;
  metrics: CaptureMetrics;
  maxBatch?: number;
}): Promise<void> {
  const known = new Set(options.tenants);
  const done = new Set<string>();
  for (const file of deadSpools(options.dir)) {
    const key = `${file.tenant}/${file.instance}`;
    if (done.has(key)) continue;
    done.add(key);
    if (!known.has(file.tenant)) {
      options.logger.warn({ tenant: file.tenant, spool: file.path }, 'spool of a tenant not served here; left in place');
      continue;
    }
    try {
      await replayInstanceSpools(forTenant(options.pool, file.tenant), options.dir, file.tenant, file.instance, {
        maxBatch: options.maxBatch ?? 500,
        logger: options.logger,
        metrics: options.metrics,
      });
    } catch (err) {
      // Left on disk: the instance's publisher, or the next start, replays it.
      options.logger.error({ err, tenant: file.tenant, instance: file.instance }, 'spool replay failed');
    }
  }
}
