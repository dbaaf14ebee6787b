import { assertTenantId } from '@switchyard/schema';
import type { Pool } from 'pg';
import { InvalidInputError } from './errors.ts';
import { recordMediaPurge } from './media-purges.ts';
import { CONTROL_SCHEMA, quoteIdent, tenantSchemaName } from './identifiers.ts';
import { migrateSchemaInTransaction, type MigrateResult } from './migrate.ts';
import { date, int, text, type Row } from './rows.ts';
import { withTransaction } from './transaction.ts';

export interface Tenant {
  id: string;
  /** Unquoted schema name; quote it with quoteIdent, or better, use forTenant. */
  schemaName: string;
  status: string;
  /** 0 keeps events forever. */
  retentionDays: number;
  createdAt: Date;
}

const TENANTS = `${quoteIdent(CONTROL_SCHEMA)}.tenants`;
const COLUMNS = 'id, schema_name, status, retention_days, created_at';

function toTenant(row: Row): Tenant {
  return {
    id: text(row, 'id'),
    schemaName: text(row, 'schema_name'),
    status: text(row, 'status'),
    retentionDays: int(row, 'retention_days'),
    createdAt: date(row, 'created_at'),
  };
}

/**
 * Registers the tenant, creates its schema and migrates it, all in one transaction, so a tenant
 * row never exists without its tables. Idempotent: provisioning an existing tenant only applies
 * pending migrations. Throws InvalidIdError (from @switchyard/schema) for a bad id.
 * Requires the control schema to be migrated (migrateControl).
 */
export async function provisionTenant(pool: Pool, id: string): Promise<Tenant> {
  const schema = tenantSchemaName(id);
  return withTransaction(pool, async (client) => {
    // Migrating first takes the tenant's advisory lock before the row insert, so concurrent
    // provisioners and deleteTenant always lock in the same order and cannot deadlock.
    await migrateSchemaInTransaction(client, 'tenant', schema);
    await client.query(
      `INSERT INTO ${TENANTS} (id, schema_name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`,
      [id, schema],
    );
    const result = await client.query<Row>(`SELECT ${COLUMNS} FROM ${TENANTS} WHERE id = $1`, [id]);
    const row = result.rows[0];
    if (!row) throw new Error(`tenant ${id} vanished during provisioning`);
    return toTenant(row);
  });
}

export async function getTenant(pool: Pool, id: string): Promise<Tenant | null> {
  assertTenantId(id);
  const result = await pool.query<Row>(`SELECT ${COLUMNS} FROM ${TENANTS} WHERE id = $1`, [id]);
  const row = result.rows[0];
  return row ? toTenant(row) : null;
}

export async function listTenants(pool: Pool): Promise<Tenant[]> {
  const result = await pool.query<Row>(`SELECT ${COLUMNS} FROM ${TENANTS} ORDER BY id`);
  return result.rows.map(toTenant);
}

/**
 * Drops the tenant's schema (all its data) and its control rows (keys and endpoints cascade) in
 * one transaction. Returns whether the tenant was registered; the schema is dropped either way.
 */
export async function deleteTenant(pool: Pool, id: string): Promise<boolean> {
  const schema = tenantSchemaName(id);
  return withTransaction(pool, async (client) => {
    // Same lock as migration, so a concurrent provisioner cannot recreate tables mid-drop.
    await client.query(
      `SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('switchyard.migrate.' || $1))`,
      [schema],
    );
    await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
    const result = await client.query(`DELETE FROM ${TENANTS} WHERE id = $1`, [id]);
    const existed = result.rowCount === 1;
    // Its media is outside Postgres: the media service removes it (control migration 000005).
    if (existed) await recordMediaPurge(client, id);
    return existed;
  });
}

/** Sets how long the tenant's events are kept (0 = forever). Returns whether the tenant exists. */
export async function setRetentionDays(pool: Pool, id: string, days: number): Promise<boolean> {
  assertTenantId(id);
  if (!Number.isSafeInteger(days) || days < 0) {
    throw new InvalidInputError(`retention days must be a non-negative integer, got ${days}`);
  }
  const result = await pool.query(`UPDATE ${TENANTS} SET retention_days = $2 WHERE id = $1`, [
    id,
    days,
  ]);
  return result.rowCount === 1;
}

/**
 * Applies pending tenant migrations to every registered tenant, one transaction each, so a
 * release that adds a tenant migration can be rolled out by any service at startup.
 */
export async function migrateAllTenants(pool: Pool): Promise<MigrateResult[]> {
  const results: MigrateResult[] = [];
  for (const tenant of await listTenants(pool)) {
    results.push(
      await withTransaction(pool, (client) =>
        migrateSchemaInTransaction(client, 'tenant', tenant.schemaName),
      ),
    );
  }
  return results;
}
