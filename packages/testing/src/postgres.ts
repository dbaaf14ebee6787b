import {
  createPool,
  deleteTenant,
  ensureDatabase,
  migrateControl,
  forgetMediaPurges,
  provisionTenant,
} from '@switchyard/db';
import type { Pool } from '@switchyard/db';
import { randomTenantId } from './random.ts';

/** Tests share one database and isolate themselves by random tenant ids (one schema each). */
export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/switchyard_test';

/** A pool on the test database with the control schema migrated. End it in afterAll. */
export async function createTestPool(options: { max?: number; url?: string } = {}): Promise<Pool> {
  const url = options.url ?? TEST_DATABASE_URL;
  await ensureDatabase(url);
  const pool = createPool({ url, max: options.max ?? 4, applicationName: 'switchyard-test' });
  try {
    await migrateControl(pool);
  } catch (error) {
    await pool.end();
    throw error;
  }
  return pool;
}

export interface TestTenant {
  tenant: string;
  /** Drops the tenant's schema and control rows. Safe to call twice. */
  cleanup(): Promise<void>;
}

/** Provisions a fresh tenant with a random id (schema and tables included). */
export async function createTestTenant(pool: Pool, prefix = 't'): Promise<TestTenant> {
  const tenant = randomTenantId(prefix);
  await provisionTenant(pool, tenant);
  return { tenant, cleanup: () => dropTestTenant(pool, tenant) };
}

export async function dropTestTenant(pool: Pool, tenant: string): Promise<void> {
  await deleteTenant(pool, tenant);
  // The media a test stored went with its own store; nothing is left for a media purge to do.
  await forgetMediaPurges(pool, tenant);
}
