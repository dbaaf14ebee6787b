import { forTenant, listTenants, retainedFrom, type Pool, type TenantDb } from '@switchyard/db';
import type { Logger } from '@switchyard/runtime';
import type { PersistenceMetrics } from './metrics.ts';
import { ensurePartitions, listPartitions, partitionTable, partitionsAhead, type MonthPartition } from './partitions.ts';

export interface RetentionDeps {
  pool: Pool;
  logger: Logger;
  metrics: PersistenceMetrics;
  /** Months created ahead of the current one. */
  partitionsAhead: number;
}

export interface TenantRetentionResult {
  tenant: string;
  dropped: string[];
  created: string[];
}

/** Event ids are removed in slices this big, so no statement holds many row locks. */
const ID_SLICE = 10_000;

/**
 * One pass for one tenant: create the months ahead, then, if it keeps events for `retentionDays`
 * (0 = forever), drop every monthly partition that ended before now − retentionDays. A partition
 * goes only when ALL of it is expired, so up to one month more than asked is kept. The ids of
 * the dropped months leave `event_ids` in small slices (the id table is not partitioned: its
 * primary key on id alone is what keeps exactly-once). A transaction-level advisory lock makes
 * replicas running the same pass take turns.
 */
export async function applyRetention(deps: RetentionDeps, tenant: string, retentionDays: number, now = new Date()): Promise<TenantRetentionResult> {
  const db = forTenant(deps.pool, tenant);
  const created = await ensurePartitions(db, partitionsAhead(now, deps.partitionsAhead));
  const from = retainedFrom(retentionDays, now);
  if (from === undefined) return { tenant, dropped: [], created };
  // Partitions end on month starts: one ending by `from` is wholly past the cutoff.
  const expired = (await listPartitions(db)).filter((p) => p.to.getTime() <= from.getTime());
  const dropped: string[] = [];
  for (const partition of expired) {
    await dropPartition(db, partition);
    dropped.push(partition.name);
    deps.metrics.partitionsDropped.inc({ tenant });
    deps.logger.info({ tenant, partition: partition.name, from: partition.from.toISOString(), to: partition.to.toISOString() }, 'retention dropped an events partition');
  }
  return { tenant, dropped, created };
}

async function dropPartition(db: TenantDb, partition: MonthPartition): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('switchyard.retention.' || $1)) -- :SCHEMA.`, [db.tenant]);
    await tx.query(`DROP TABLE IF EXISTS ${partitionTable(partition)}`);
  });
  for (;;) {
    const removed = await db.query(
      `DELETE FROM :SCHEMA.event_ids WHERE id IN (
         SELECT id FROM :SCHEMA.event_ids WHERE occurred_at >= $1 AND occurred_at < $2 LIMIT ${ID_SLICE})`,
      [partition.from.toISOString(), partition.to.toISOString()],
    );
    if ((removed.rowCount ?? 0) < ID_SLICE) break;
  }
}

/** A pass over every registered tenant; one tenant's failure is logged and the rest still run. */
export async function runRetentionPass(deps: RetentionDeps, now = new Date()): Promise<TenantRetentionResult[]> {
  const results: TenantRetentionResult[] = [];
  for (const tenant of await listTenants(deps.pool)) {
    try {
      results.push(await applyRetention(deps, tenant.id, tenant.retentionDays, now));
    } catch (err) {
      deps.logger.error({ tenant: tenant.id, err }, 'retention failed for a tenant; next pass retries');
    }
  }
  deps.metrics.retentionLastRun.set(Date.now() / 1000);
  const dropped = results.reduce((n, r) => n + r.dropped.length, 0);
  deps.logger.info({ tenants: results.length, dropped }, 'retention pass done');
  return results;
}
