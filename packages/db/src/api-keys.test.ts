import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from 'pg';
import { createApiKey, listApiKeys, revokeApiKey, verifyApiKey } from './api-keys.ts';
import { InvalidInputError, TenantNotFoundError } from './errors.ts';
import { deleteTenant, provisionTenant } from './tenants.ts';
import { forgetMediaPurges } from './media-purges.ts';
import { openTestPool, randomTenant } from './test-helpers.ts';

let pool: Pool;
const tenant = randomTenant('k');
const operatorKeys: string[] = [];
beforeAll(async () => {
  pool = await openTestPool();
  await provisionTenant(pool, tenant);
});
afterAll(async () => {
  await deleteTenant(pool, tenant);
  await forgetMediaPurges(pool, tenant);
  await pool.query('DELETE FROM switchyard.api_keys WHERE id = ANY($1)', [operatorKeys]);
  await pool.end();
});

describe('api keys', () => {
  it('verifies a tenant key to its principal, and not after revocation', async () => {
    const { id, key } = await createApiKey(pool, { tenant, role: 'read', name: 'dashboard' });
    expect(id).toMatch(/^key_[0-9a-f]{12}$/);
    expect(key).toMatch(/^sy_read_[A-Za-z0-9_-]{43}$/);
    expect(await verifyApiKey(pool, key)).toEqual({
      kind: 'tenant',
      tenant,
      role: 'read',
      keyId: id,
    });
    expect(await revokeApiKey(pool, id)).toBe(true);
    expect(await revokeApiKey(pool, id)).toBe(false);
    expect(await verifyApiKey(pool, key)).toBeNull();
  });

  it('stores the SHA-256 of the key, never the key', async () => {
    const { id, key } = await createApiKey(pool, { tenant, role: 'admin' });
    const row = await pool.query<{ key_hash: Buffer; all: string }>(
      'SELECT key_hash, row_to_json(k)::text AS all FROM switchyard.api_keys k WHERE id = $1',
      [id],
    );
    expect(row.rows[0]?.key_hash.equals(createHash('sha256').update(key).digest())).toBe(true);
    expect(row.rows[0]?.all).not.toContain(key.slice(9));
  });

  it('verifies operator keys without a tenant', async () => {
    const { id, key } = await createApiKey(pool, { tenant: null, role: 'operator' });
    operatorKeys.push(id);
    expect(await verifyApiKey(pool, key)).toEqual({ kind: 'operator', keyId: id });
  });

  it('rejects unknown and malformed keys', async () => {
    const { key } = await createApiKey(pool, { tenant, role: 'read' });
    const tampered = `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
    expect(await verifyApiKey(pool, tampered)).toBeNull();
    expect(await verifyApiKey(pool, 'not a key')).toBeNull();
    expect(await verifyApiKey(pool, '')).toBeNull();
  });

  it('touches last_used_at at most once a minute', async () => {
    const { id, key } = await createApiKey(pool, { tenant, role: 'read' });
    await verifyApiKey(pool, key);
    const first = (await listApiKeys(pool, tenant)).find((k) => k.id === id)?.lastUsedAt;
    expect(first).toBeInstanceOf(Date);
    await verifyApiKey(pool, key);
    const second = (await listApiKeys(pool, tenant)).find((k) => k.id === id)?.lastUsedAt;
    expect(second).toEqual(first);
  });

  it('refuses keys for a suspended tenant', async () => {
    const other = randomTenant('k');
    await provisionTenant(pool, other);
    try {
      const { key } = await createApiKey(pool, { tenant: other, role: 'admin' });
      await pool.query(`UPDATE switchyard.tenants SET status = 'suspended' WHERE id = $1`, [other]);
      expect(await verifyApiKey(pool, key)).toBeNull();
    } finally {
      await deleteTenant(pool, other);
      await forgetMediaPurges(pool, other);
    }
  });

  it('validates the role/tenant pairing and the tenant', async () => {
    await expect(createApiKey(pool, { tenant: null, role: 'read' })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    await expect(createApiKey(pool, { tenant, role: 'operator' })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    await expect(
      createApiKey(pool, { tenant: randomTenant(), role: 'read' }),
    ).rejects.toBeInstanceOf(TenantNotFoundError);
  });

  it('lists keys without hashes, scoped by tenant', async () => {
    const keys = await listApiKeys(pool, tenant);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      expect(k.tenant).toBe(tenant);
      expect(Object.keys(k)).not.toContain('keyHash');
    }
    expect(await revokeApiKey(pool, keys[0]!.id, randomTenant())).toBe(false);
  });
});
