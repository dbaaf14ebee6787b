import { InvalidIdError } from '@switchyard/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from 'pg';
import { tenantSchemaName } from './identifiers.ts';
import {
  deleteTenant,
  getTenant,
  listTenants,
  provisionTenant,
  setRetentionDays,
} from './tenants.ts';
import { forgetMediaPurges, pendingMediaPurges } from './media-purges.ts';
import { openTestPool, randomTenant } from './test-helpers.ts';

let pool: Pool;
const created: string[] = [];
beforeAll(async () => {
  pool = await openTestPool();
});
afterAll(async () => {
  for (const tenant of created) {
    await deleteTenant(pool, tenant);
    await forgetMediaPurges(pool, tenant);
  }
  await pool.end();
});

function fresh(prefix?: string): string {
  const tenant = randomTenant(prefix);
  created.push(tenant);
  return tenant;
}

async function tablesOf(schema: string): Promise<string[]> {
  const result = await pool.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
    [schema],
  );
  return result.rows.map((row) => row.table_name);
}

async function schemaExists(schema: string): Promise<boolean> {
  const result = await pool.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [
    schema,
  ]);
  return result.rowCount === 1;
}

describe('provisionTenant', () => {
  it('creates the row, the schema and its tables, and is idempotent', async () => {
    const tenant = fresh();
    const first = await provisionTenant(pool, tenant);
    const second = await provisionTenant(pool, tenant);
    expect(second).toEqual(first);
    expect(first).toMatchObject({
      id: tenant,
      schemaName: `tenant_${tenant}`,
      status: 'active',
      retentionDays: 0,
    });
    expect(await tablesOf(`tenant_${tenant}`)).toEqual([
      'capture_outbox',
      'capture_spool_progress',
      'chats',
      'contacts',
      'event_ids',
      'events',
      'events_default',
      'exhausted_events',
      'group_participants',
      'groups',
      'instance_sequences',
      'media',
      'media_jobs',
      'message_history',
      'messages',
      'migrations',
      'onboarding',
      'reactions',
      'replay_jobs',
      'wa_auth_creds',
      'wa_auth_keys',
      'wa_sessions',
      'webhook_deliveries',
      'webhook_delivery_attempts',
    ]);
    expect(await getTenant(pool, tenant)).toEqual(first);
    expect((await listTenants(pool)).map((t) => t.id)).toContain(tenant);
  });

  it('survives concurrent provisioning of the same tenant', async () => {
    const tenant = fresh();
    const [x, y] = await Promise.all([
      provisionTenant(pool, tenant),
      provisionTenant(pool, tenant),
    ]);
    expect(x).toEqual(y);
  });

  it.each([
    '../x',
    'A',
    'a"; drop schema switchyard cascade; --',
    'a'.repeat(64),
    '',
    '_system',
    '-a',
  ])('refuses the invalid id %j', async (id) => {
    await expect(provisionTenant(pool, id)).rejects.toBeInstanceOf(InvalidIdError);
    await expect(getTenant(pool, id)).rejects.toBeInstanceOf(InvalidIdError);
    await expect(deleteTenant(pool, id)).rejects.toBeInstanceOf(InvalidIdError);
  });

  it('gives two 63-character ids with a common prefix distinct schemas within the identifier limit', async () => {
    const stem = fresh('long').padEnd(60, 'x');
    const one = `${stem}aaa`;
    const two = `${stem}bbb`;
    created.push(one, two);
    const [t1, t2] = await Promise.all([provisionTenant(pool, one), provisionTenant(pool, two)]);
    expect(t1.schemaName).not.toBe(t2.schemaName);
    expect(t1.schemaName.length).toBeLessThanOrEqual(63);
    expect(await schemaExists(t1.schemaName)).toBe(true);
    expect(await schemaExists(t2.schemaName)).toBe(true);
  });
});

describe('deleteTenant', () => {
  it('drops the schema and the row, leaves the media purge to do, and reports whether the tenant existed', async () => {
    const tenant = fresh();
    await provisionTenant(pool, tenant);
    expect(await deleteTenant(pool, tenant)).toBe(true);
    expect(await schemaExists(tenantSchemaName(tenant))).toBe(false);
    expect(await getTenant(pool, tenant)).toBeNull();
    expect(await deleteTenant(pool, tenant)).toBe(false);
    // One purge (the second delete found no tenant), due now, not done.
    const purges = await pendingMediaPurges(pool, new Date(Date.now() + 60_000), [tenant]);
    expect(purges).toEqual([expect.objectContaining({ tenant, purgedAt: null, attempts: 0, recreatedAt: null })]);
    // Provisioned again: the purge knows since when the objects under its prefix are the new tenant's.
    const again = await provisionTenant(pool, tenant);
    expect((await pendingMediaPurges(pool, new Date(Date.now() + 60_000), [tenant]))[0]?.recreatedAt).toEqual(again.createdAt);
    expect(await forgetMediaPurges(pool, tenant)).toBe(1);
  });
});

describe('setRetentionDays', () => {
  it('updates an existing tenant and refuses nonsense', async () => {
    const tenant = fresh();
    await provisionTenant(pool, tenant);
    expect(await setRetentionDays(pool, tenant, 30)).toBe(true);
    expect((await getTenant(pool, tenant))?.retentionDays).toBe(30);
    await expect(setRetentionDays(pool, tenant, -1)).rejects.toThrow(/non-negative/);
    expect(await setRetentionDays(pool, randomTenant(), 1)).toBe(false);
  });
});
