import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from 'pg';
import { CONTROL_SCHEMA, quoteIdent, tenantSchemaName } from './identifiers.ts';
import { loadMigrations, migrateControl, migrateTenant } from './migrate.ts';
import { deleteTenant } from './tenants.ts';
import { forgetMediaPurges } from './media-purges.ts';
import { openTestPool, randomTenant } from './test-helpers.ts';

let a: Pool;
let b: Pool;
beforeAll(async () => {
  a = await openTestPool();
  b = await openTestPool();
});
afterAll(async () => {
  await Promise.all([a.end(), b.end()]);
});

async function appliedIds(pool: Pool, schema: string): Promise<number[]> {
  const result = await pool.query<{ id: number }>(
    `SELECT id FROM ${quoteIdent(schema)}.migrations ORDER BY id`,
  );
  return result.rows.map((row) => row.id);
}

describe('migrations', () => {
  it('applies each tenant migration exactly once when two pools race', async () => {
    const tenant = randomTenant();
    try {
      const results = await Promise.all([migrateTenant(a, tenant), migrateTenant(b, tenant)]);
      const files = await loadMigrations('tenant');
      const ids = files.map((m) => m.id);
      // One of the racers did all the work; the other found nothing pending.
      expect(results.map((r) => r.applied.length).sort()).toEqual([0, ids.length]);
      expect(await appliedIds(a, tenantSchemaName(tenant))).toEqual(ids);
      expect((await migrateTenant(a, tenant)).applied).toEqual([]);
    } finally {
      await deleteTenant(a, tenant);
      await forgetMediaPurges(a, tenant);
    }
  });

  it('leaves the control schema fully migrated under concurrent startup', async () => {
    await Promise.all([migrateControl(a), migrateControl(b), migrateControl(a)]);
    const files = await loadMigrations('control');
    expect(await appliedIds(a, CONTROL_SCHEMA)).toEqual(files.map((m) => m.id));
  });

  it('numbers migration files contiguously from 1', async () => {
    for (const set of ['control', 'tenant'] as const) {
      const files = await loadMigrations(set);
      expect(files.map((m) => m.id)).toEqual(files.map((_, i) => i + 1));
      for (const m of files) expect(m.sql).toContain(':SCHEMA.');
    }
  });
});
