import type { Pool, PoolClient } from 'pg';
import { CONTROL_SCHEMA, quoteIdent } from './identifiers.ts';
import { date, dateOrNull, int, intOrNull, text, textOrNull, type Row } from './rows.ts';

const PURGES = `${quoteIdent(CONTROL_SCHEMA)}.media_purges`;
const TENANTS = `${quoteIdent(CONTROL_SCHEMA)}.tenants`;

/** A deleted tenant whose stored media is (or was) to be removed; see control migration 000005. */
export interface MediaPurge {
  id: number;
  tenant: string;
  deletedAt: Date;
  purgedAt: Date | null;
  /** Objects removed by the pass that finished it. */
  objects: number | null;
  attempts: number;
  lastError: string | null;
  /**
   * When a tenant of the same id was provisioned again after this deletion: only objects stored
   * before then belong to the deleted one.
   */
  recreatedAt: Date | null;
}

function toPurge(row: Row): MediaPurge {
  return {
    id: int(row, 'id'),
    tenant: text(row, 'tenant'),
    deletedAt: date(row, 'deleted_at'),
    purgedAt: dateOrNull(row, 'purged_at'),
    objects: intOrNull(row, 'objects'),
    attempts: int(row, 'attempts'),
    lastError: textOrNull(row, 'last_error'),
    recreatedAt: dateOrNull(row, 'recreated_at'),
  };
}

const SELECT = `SELECT p.id, p.tenant, p.deleted_at, p.purged_at, p.objects, p.attempts, p.last_error, t.created_at AS recreated_at
                  FROM ${PURGES} p LEFT JOIN ${TENANTS} t ON t.id = p.tenant AND t.created_at > p.deleted_at`;

/** Records, in `deleteTenant`'s transaction, that the tenant's media must go. */
export async function recordMediaPurge(client: PoolClient, tenant: string): Promise<void> {
  await client.query(`INSERT INTO ${PURGES} (tenant) VALUES ($1)`, [tenant]);
}

/**
 * Purges still to do whose tenant was deleted at or before `deletedBefore`, oldest first; only
 * those of `tenants` when given.
 */
export async function pendingMediaPurges(db: Pool | PoolClient, deletedBefore: Date, tenants?: readonly string[], limit = 100): Promise<MediaPurge[]> {
  const { rows } = await db.query<Row>(
    `${SELECT} WHERE p.purged_at IS NULL AND p.deleted_at <= $1 AND ($2::text[] IS NULL OR p.tenant = ANY($2)) ORDER BY p.deleted_at, p.id LIMIT $3`,
    [deletedBefore, tenants ?? null, limit],
  );
  return rows.map(toPurge);
}

export async function getMediaPurge(db: Pool | PoolClient, id: number): Promise<MediaPurge | undefined> {
  const { rows } = await db.query<Row>(`${SELECT} WHERE p.id = $1`, [id]);
  return rows[0] === undefined ? undefined : toPurge(rows[0]);
}

/** Every purge, newest first (`switchyard media purges`). */
export async function listMediaPurges(pool: Pool, limit = 100): Promise<MediaPurge[]> {
  const { rows } = await pool.query<Row>(`${SELECT} ORDER BY p.deleted_at DESC, p.id DESC LIMIT $1`, [limit]);
  return rows.map(toPurge);
}

/** How many purges are not done, and since when the oldest waits (null when none). */
export async function mediaPurgeBacklog(pool: Pool): Promise<{ pending: number; oldest: Date | null }> {
  const { rows } = await pool.query<Row>(`SELECT count(*)::int AS pending, min(deleted_at) AS oldest FROM ${PURGES} WHERE purged_at IS NULL`);
  const row = rows[0]!;
  return { pending: int(row, 'pending'), oldest: dateOrNull(row, 'oldest') };
}

export async function finishMediaPurge(db: Pool | PoolClient, id: number, objects: number): Promise<void> {
  await db.query(`UPDATE ${PURGES} SET purged_at = now(), objects = $2, attempts = attempts + 1, last_error = NULL WHERE id = $1`, [id, objects]);
}

export async function failMediaPurge(db: Pool | PoolClient, id: number, error: string): Promise<void> {
  await db.query(`UPDATE ${PURGES} SET attempts = attempts + 1, last_error = $2 WHERE id = $1`, [id, error.slice(0, 2000)]);
}

/**
 * Forgets a tenant's purges, done or not: for media removed some other way (by hand, or a store
 * that went with a test), so no pass looks for it.
 */
export async function forgetMediaPurges(db: Pool | PoolClient, tenant: string): Promise<number> {
  const result = await db.query(`DELETE FROM ${PURGES} WHERE tenant = $1`, [tenant]);
  return result.rowCount ?? 0;
}
