import type pg from 'pg';
import { forTenant } from '@switchyard/db';
import { dropTestTenant, eventually, randomTenantId } from '@switchyard/testing';
import { switchyard } from './processes.ts';

/** Creates a tenant the way an operator does: `pnpm switchyard tenant create`, as a process. */
export async function createTenantWithCli(env: Record<string, string>, prefix = 'e2e'): Promise<string> {
  const tenant = randomTenantId(prefix);
  await switchyard(['tenant', 'create', tenant], env);
  return tenant;
}

/** `pnpm switchyard endpoint add`, returning the endpoint's id and signing secret. */
export async function addEndpointWithCli(env: Record<string, string>, tenant: string, url: string, types = '*'): Promise<{ id: string; secret: string }> {
  const out = await switchyard(['--json', 'endpoint', 'add', tenant, url, '--types', types], env);
  const parsed = JSON.parse(out) as { id: string; secret: string };
  return { id: parsed.id, secret: parsed.secret };
}

/** Drops the tenants a test made; their media went with the fleet's own store, so no purge is left to do. */
export async function dropTenants(pool: pg.Pool, tenants: string[]): Promise<void> {
  for (const tenant of tenants) await dropTestTenant(pool, tenant);
}

/**
 * Ids stored in a tenant's events table, in capture order: by instance and `seq` (persistence
 * stores a whole batch in one transaction, so `stored_at` cannot order events within it).
 */
export async function storedEventIds(pool: pg.Pool, tenant: string): Promise<string[]> {
  const result = await forTenant(pool, tenant).query<{ id: string }>(
    'SELECT id FROM :SCHEMA.events ORDER BY instance, seq NULLS LAST, stored_at, id',
  );
  return result.rows.map((r) => r.id);
}

/** Waits until every id is stored in the tenant's events table. */
export async function waitStored(pool: pg.Pool, tenant: string, ids: string[], timeoutMs = 30_000): Promise<string[]> {
  return eventually(
    async () => {
      const stored = await storedEventIds(pool, tenant);
      return ids.every((id) => stored.includes(id)) ? stored : undefined;
    },
    timeoutMs,
    `${ids.length} events stored for ${tenant}`,
  );
}
