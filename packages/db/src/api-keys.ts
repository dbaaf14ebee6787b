import { createHash, randomBytes } from 'node:crypto';
import { assertTenantId } from '@switchyard/schema';
import type { Pool } from 'pg';
import { InvalidInputError, pgErrorCode, RowShapeError, TenantNotFoundError } from './errors.ts';
import { CONTROL_SCHEMA, quoteIdent } from './identifiers.ts';
import type { ApiKeyRole, Principal } from './principal.ts';
import { date, dateOrNull, text, textOrNull, type Row } from './rows.ts';

/** A tenant key's role, or `operator` for a key that spans all tenants. */
export type KeyRole = ApiKeyRole | 'operator';

export interface CreateApiKeyInput {
  /** null exactly when role is `operator`. */
  tenant: string | null;
  role: KeyRole;
  name?: string;
}

export interface CreatedApiKey {
  id: string;
  /** The plaintext key. Shown once; only its hash is stored. */
  key: string;
}

export interface ApiKeyInfo {
  id: string;
  tenant: string | null;
  role: KeyRole;
  name: string | null;
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

const API_KEYS = `${quoteIdent(CONTROL_SCHEMA)}.api_keys`;
const TENANTS = `${quoteIdent(CONTROL_SCHEMA)}.tenants`;
const KEY_PATTERN = /^sy_(read|admin|operator)_[A-Za-z0-9_-]{43}$/;

/**
 * SHA-256, not a password hash: keys carry 256 bits from the CSPRNG, so brute force is hopeless
 * without key stretching, and a fast hash keeps verification (on every API request) cheap. The
 * lookup is by hash, so comparing secrets never happens in application code.
 */
function hashKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

function isKeyRole(value: string): value is KeyRole {
  return value === 'read' || value === 'admin' || value === 'operator';
}

function keyRole(row: Row): KeyRole {
  const role = text(row, 'role');
  if (!isKeyRole(role)) throw new RowShapeError('role', 'read | admin | operator', role);
  return role;
}

export async function createApiKey(pool: Pool, input: CreateApiKeyInput): Promise<CreatedApiKey> {
  if (!isKeyRole(input.role))
    throw new InvalidInputError(`unknown api key role ${String(input.role)}`);
  if ((input.role === 'operator') !== (input.tenant === null)) {
    throw new InvalidInputError('operator keys have no tenant; read and admin keys need one');
  }
  if (input.tenant !== null) assertTenantId(input.tenant);
  const id = `key_${randomBytes(6).toString('hex')}`;
  const key = `sy_${input.role}_${randomBytes(32).toString('base64url')}`;
  try {
    await pool.query(
      `INSERT INTO ${API_KEYS} (id, tenant_id, role, key_hash, name) VALUES ($1, $2, $3, $4, $5)`,
      [id, input.tenant, input.role, hashKey(key), input.name ?? null],
    );
  } catch (error) {
    // 23503 foreign_key_violation: the tenant row does not exist.
    if (pgErrorCode(error) === '23503' && input.tenant !== null) {
      throw new TenantNotFoundError(input.tenant, { cause: error });
    }
    throw error;
  }
  return { id, key };
}

/**
 * The principal a key speaks for, or null if it is unknown, revoked, or its tenant is not
 * active. last_used_at is bumped in the same statement (at most once a minute, to spare writes).
 */
export async function verifyApiKey(pool: Pool, key: string): Promise<Principal | null> {
  // Malformed keys cannot match; skip the round trip.
  if (!KEY_PATTERN.test(key)) return null;
  const result = await pool.query<Row>(
    `WITH found AS (
       SELECT k.id, k.tenant_id, k.role, k.last_used_at
         FROM ${API_KEYS} k
         LEFT JOIN ${TENANTS} t ON t.id = k.tenant_id
        WHERE k.key_hash = $1
          AND k.revoked_at IS NULL
          AND (k.tenant_id IS NULL OR t.status = 'active')
     ), touched AS (
       UPDATE ${API_KEYS} k SET last_used_at = now()
         FROM found
        WHERE k.id = found.id
          AND (found.last_used_at IS NULL OR found.last_used_at < now() - interval '1 minute')
     )
     SELECT id, tenant_id, role FROM found`,
    [hashKey(key)],
  );
  const row = result.rows[0];
  if (!row) return null;
  const keyId = text(row, 'id');
  const role = keyRole(row);
  if (role === 'operator') return { kind: 'operator', keyId };
  return { kind: 'tenant', tenant: text(row, 'tenant_id'), role, keyId };
}

/**
 * Revokes a key. With `tenant`, only that tenant's key matches, so a tenant admin cannot revoke
 * another tenant's key by id. Returns false if no active key matched.
 */
export async function revokeApiKey(pool: Pool, id: string, tenant?: string): Promise<boolean> {
  if (tenant !== undefined) assertTenantId(tenant);
  const result = await pool.query(
    `UPDATE ${API_KEYS} SET revoked_at = now()
      WHERE id = $1 AND revoked_at IS NULL AND ($2::text IS NULL OR tenant_id = $2)`,
    [id, tenant ?? null],
  );
  return result.rowCount === 1;
}

/**
 * Keys without their hashes. `tenant` undefined lists all keys, null only operator keys,
 * a tenant id only that tenant's keys.
 */
export async function listApiKeys(pool: Pool, tenant?: string | null): Promise<ApiKeyInfo[]> {
  if (typeof tenant === 'string') assertTenantId(tenant);
  const filter =
    tenant === undefined
      ? ''
      : tenant === null
        ? 'WHERE tenant_id IS NULL'
        : 'WHERE tenant_id = $1';
  const result = await pool.query<Row>(
    `SELECT id, tenant_id, role, name, created_at, revoked_at, last_used_at
       FROM ${API_KEYS} ${filter} ORDER BY created_at, id`,
    typeof tenant === 'string' ? [tenant] : [],
  );
  return result.rows.map((row) => ({
    id: text(row, 'id'),
    tenant: textOrNull(row, 'tenant_id'),
    role: keyRole(row),
    name: textOrNull(row, 'name'),
    createdAt: date(row, 'created_at'),
    revokedAt: dateOrNull(row, 'revoked_at'),
    lastUsedAt: dateOrNull(row, 'last_used_at'),
  }));
}
