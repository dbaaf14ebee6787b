import { readdir, readFile } from 'node:fs/promises';
import type { Pool, PoolClient } from 'pg';
import { MigrationError } from './errors.ts';
import { CONTROL_SCHEMA, quoteIdent, tenantSchemaName } from './identifiers.ts';
import { int } from './rows.ts';
import { withTransaction } from './transaction.ts';

export type MigrationSet = 'control' | 'tenant';

export interface Migration {
  id: number;
  name: string;
  /** SQL with the `:SCHEMA` placeholder still in place. */
  sql: string;
}

const FILE_PATTERN = /^(\d{6})-([a-z0-9-]+)\.sql$/;
const loaded = new Map<MigrationSet, Promise<Migration[]>>();

async function readMigrations(set: MigrationSet): Promise<Migration[]> {
  const dir = new URL(`../migrations/${set}/`, import.meta.url);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_PATTERN.exec(file);
    if (!match?.[1] || !match[2])
      throw new MigrationError(`bad migration file name ${set}/${file}`);
    const id = Number(match[1]);
    // Gaps or duplicates mean a bad merge; applying around them would diverge between databases.
    if (id !== migrations.length + 1)
      throw new MigrationError(`migration ${set}/${file} is out of sequence`);
    migrations.push({ id, name: match[2], sql: await readFile(new URL(file, dir), 'utf8') });
  }
  return migrations;
}

/** The migrations shipped with this package, read once per process. */
export function loadMigrations(set: MigrationSet): Promise<Migration[]> {
  let migrations = loaded.get(set);
  if (!migrations) {
    migrations = readMigrations(set);
    loaded.set(set, migrations);
    // A failed read must not be cached forever.
    migrations.catch(() => loaded.delete(set));
  }
  return migrations;
}

export interface MigrateResult {
  schema: string;
  /** Ids applied by this call; empty when another process (or an earlier run) got there first. */
  applied: number[];
}

/**
 * Brings `schema` up to date inside the caller's transaction. The advisory lock serialises every
 * migrator of this schema (and deleteTenant), so a second process waits, then sees the rows the
 * first committed and applies nothing; each file commits together with its migrations row.
 */
export async function migrateSchemaInTransaction(
  client: PoolClient,
  set: MigrationSet,
  schema: string,
): Promise<MigrateResult> {
  const migrations = await loadMigrations(set);
  const q = quoteIdent(schema);
  await client.query(
    `SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('switchyard.migrate.' || $1))`,
    [schema],
  );
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${q}`);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${q}.migrations (
       id int PRIMARY KEY,
       name text NOT NULL,
       applied_at timestamptz NOT NULL DEFAULT now()
     )`,
  );
  const done = await client.query<Record<string, unknown>>(`SELECT id FROM ${q}.migrations`);
  const appliedIds = new Set(done.rows.map((row) => int(row, 'id')));
  const applied: number[] = [];
  for (const migration of migrations) {
    if (appliedIds.has(migration.id)) continue;
    try {
      await client.query(migration.sql.replaceAll(':SCHEMA', q));
    } catch (error) {
      throw new MigrationError(
        `${set} migration ${migration.id}-${migration.name} failed on ${q}`,
        { cause: error },
      );
    }
    await client.query(`INSERT INTO ${q}.migrations (id, name) VALUES ($1, $2)`, [
      migration.id,
      migration.name,
    ]);
    applied.push(migration.id);
  }
  return { schema, applied };
}

/** Migrates the control schema. Every service calls this at startup; concurrent callers are safe. */
export async function migrateControl(pool: Pool): Promise<MigrateResult> {
  return withTransaction(pool, (client) =>
    migrateSchemaInTransaction(client, 'control', CONTROL_SCHEMA),
  );
}

/** Creates (if needed) and migrates one tenant's schema. Does not register the tenant: see provisionTenant. */
export async function migrateTenant(pool: Pool, tenant: string): Promise<MigrateResult> {
  const schema = tenantSchemaName(tenant);
  return withTransaction(pool, (client) => migrateSchemaInTransaction(client, 'tenant', schema));
}
