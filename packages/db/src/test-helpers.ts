// Shared by this package's tests only (the testing package depends on db, so db cannot use it).
import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { createPool, ensureDatabase } from './pool.ts';
import { migrateControl } from './migrate.ts';

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
