// Shared by this package's tests only (the testing package depends on db, so db cannot use it).
import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { createPool, ensureDatabase } from './pool.ts';
import { migrateControl } from './migrate.ts';
import { deleteTenant, provisionTenant } from './tenants.ts';
import { forgetMediaPurges } from './media-purges.ts';

export const TEST_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/switchyard_test';

export function randomTenant(prefix = 'dbt'): string {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}

export async function openTestPool(max = 4): Promise<Pool> {
  await ensureDatabase(TEST_URL);
  const pool = createPool({ url: TEST_URL, max, applicationName: 'switchyard-db-test' });
  await migrateControl(pool);
  return pool;
}

/**
 * A test file's pool and one freshly provisioned tenant per prefix: opened and provisioned before
 * the file's tests, deleted and closed after them. Call it at the file's top level.
 */
export function useTestTenants(...prefixes: string[]): { pool(): Pool; tenants: string[] } {
  const tenants = prefixes.map((prefix) => randomTenant(prefix));
  let pool: Pool | undefined;
  beforeAll(async () => {
    pool = await openTestPool();
    await Promise.all(tenants.map((tenant) => provisionTenant(pool!, tenant)));
  });
  afterAll(async () => {
    if (pool === undefined) return;
    for (const tenant of tenants) {
      await deleteTenant(pool, tenant);
      await forgetMediaPurges(pool, tenant);
    }
    await pool.end();
  });
  return {
    pool() {
      if (pool === undefined) throw new Error('useTestTenants: the pool opens in beforeAll');
      return pool;
    },
    tenants,
  };
}
