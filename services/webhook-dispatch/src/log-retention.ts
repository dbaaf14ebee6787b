import { forTenant, listTenants, type Pool, type TenantQueryable } from '@switchyard/db';
import type { Logger } from '@switchyard/runtime';
import type { WebhookMetrics } from './metrics.ts';

/** Deliveries removed per statement, so no statement holds many row locks or runs long. */
export const PRUNE_SLICE = 5_000;

/** Only deliveries that ended are pruned: pending and retrying ones are still being worked. */
const ENDED = ['delivered', 'exhausted'] as const;

export interface PrunedLog {
  deliveries: number;
  attempts: number;
}

/**
 * Deletes `tenant`'s deliveries that ended (delivered or exhausted) and were last touched before
 * `olderThan`, with their attempts, endpoint by endpoint and in slices of `slice` along
 * `webhook_deliveries_status_idx`. A delivery re-sent meanwhile (its row back to pending, its
 * `updated_at` now) no longer matches when its row is deleted, so it stays with its attempts.
 */
export async function pruneDeliveryLog(
  db: TenantQueryable,
  olderThan: Date,
  slice = PRUNE_SLICE,
  onProgress?: (sofar: PrunedLog) => void,
): Promise<PrunedLog> {
  const pruned: PrunedLog = { deliveries: 0, attempts: 0 };
  let slices = 0;
  for (const endpoint of await endpointsWithLog(db)) {
    for (const status of ENDED) {
      for (;;) {
        const result = await db.query<{ deliveries: number; attempts: number }>(
          `WITH doomed AS (
             SELECT endpoint_id, event_id FROM :SCHEMA.webhook_deliveries
              WHERE endpoint_id = $1 AND status = $2 AND updated_at < $3
              ORDER BY updated_at LIMIT $4
           ), gone AS (
             DELETE FROM :SCHEMA.webhook_deliveries d USING doomed x
              WHERE d.endpoint_id = x.endpoint_id AND d.event_id = x.event_id AND d.status = $2 AND d.updated_at < $3
             RETURNING d.endpoint_id, d.event_id
           ), attempts AS (
             DELETE FROM :SCHEMA.webhook_delivery_attempts a USING gone g
              WHERE a.endpoint_id = g.endpoint_id AND a.event_id = g.event_id
             RETURNING 1
           )
           SELECT (SELECT count(*) FROM gone)::int AS deliveries, (SELECT count(*) FROM attempts)::int AS attempts`,
          [endpoint, status, olderThan, slice],
        );
        const row = result.rows[0] ?? { deliveries: 0, attempts: 0 };
        pruned.deliveries += row.deliveries;
        pruned.attempts += row.attempts;
        if (row.deliveries < slice) break;
        // A first pass over a large log takes a while: say how far it got every 20 full slices.
        if (++slices % 20 === 0) onProgress?.({ ...pruned });
      }
    }
  }
  return pruned;
}

/**
 * Every endpoint id in the log, deleted endpoints' included, one index probe each (a skip scan of
 * the primary key) rather than a read of the whole table.
 */
async function endpointsWithLog(db: TenantQueryable): Promise<string[]> {
  const result = await db.query<{ endpoint_id: string }>(
    `WITH RECURSIVE e AS (
       (SELECT endpoint_id FROM :SCHEMA.webhook_deliveries ORDER BY endpoint_id LIMIT 1)
       UNION ALL
       SELECT (SELECT d.endpoint_id FROM :SCHEMA.webhook_deliveries d WHERE d.endpoint_id > e.endpoint_id ORDER BY d.endpoint_id LIMIT 1)
         FROM e WHERE e.endpoint_id IS NOT NULL
     )
     SELECT endpoint_id FROM e WHERE endpoint_id IS NOT NULL`,
  );
  return result.rows.map((r) => r.endpoint_id);
}

export interface LogRetentionDeps {
  pool: Pool;
  logger: Logger;
  metrics: Pick<WebhookMetrics, 'logPruned' | 'logRetentionLastRun'>;
  /** Deliveries that ended longer ago than this are deleted. */
  retentionMs: number;
  /**
   * Whether this replica owns the tenant's partition (the lease that already decides who fans out
   * and delivers its events): each tenant's log is pruned by its owner alone.
   */
  owns: (tenant: string) => boolean;
}

/** One pass over the tenants this replica owns; one tenant's failure is logged and the others still run. */
export async function runLogRetentionPass(deps: LogRetentionDeps, now = new Date()): Promise<Map<string, PrunedLog>> {
  const olderThan = new Date(now.getTime() - deps.retentionMs);
  const results = new Map<string, PrunedLog>();
  for (const tenant of await listTenants(deps.pool)) {
    if (!deps.owns(tenant.id)) continue;
    try {
      const pruned = await pruneDeliveryLog(forTenant(deps.pool, tenant.id), olderThan, PRUNE_SLICE, (sofar) =>
        deps.logger.info({ tenant: tenant.id, ...sofar, older_than: olderThan.toISOString() }, 'delivery log pruning'),
      );
      results.set(tenant.id, pruned);
      if (pruned.deliveries > 0) {
        deps.metrics.logPruned.inc({ tenant: tenant.id, table: 'deliveries' }, pruned.deliveries);
        deps.metrics.logPruned.inc({ tenant: tenant.id, table: 'attempts' }, pruned.attempts);
        deps.logger.info({ tenant: tenant.id, ...pruned, older_than: olderThan.toISOString() }, 'delivery log pruned');
      }
    } catch (err) {
      deps.logger.error({ tenant: tenant.id, err }, 'delivery log retention failed for a tenant; next pass retries');
    }
  }
  deps.metrics.logRetentionLastRun.set(Date.now() / 1000);
  return results;
}
