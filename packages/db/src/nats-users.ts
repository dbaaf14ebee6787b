import type { Pool } from 'pg';
import { assertTenantId } from '@switchyard/schema';
import { CONTROL_SCHEMA, quoteIdent } from './identifiers.ts';
import { date, dateOrNull, text, type Row } from './rows.ts';

/** A NATS user minted for a tenant: its public key, never its seed. */
export interface NatsUser {
  publicKey: string;
  tenant: string;
  issuedAt: Date;
  /** When `nats-credentials revoke` put it in the account's revocations; null while valid. */
  revokedAt: Date | null;
}

const NATS_USERS = `${quoteIdent(CONTROL_SCHEMA)}.nats_users`;

function toUser(row: Row): NatsUser {
  return {
    publicKey: text(row, 'public_key'),
    tenant: text(row, 'tenant'),
    issuedAt: date(row, 'issued_at'),
    revokedAt: dateOrNull(row, 'revoked_at'),
  };
}

/** Records a user minted for `tenant` (idempotent). */
export async function recordNatsUser(pool: Pool, tenant: string, publicKey: string): Promise<void> {
  await pool.query(`INSERT INTO ${NATS_USERS} (public_key, tenant) VALUES ($1, $2) ON CONFLICT (public_key) DO NOTHING`, [publicKey, assertTenantId(tenant)]);
}

/** Every user minted for `tenant` (only those not revoked, with `unrevoked`), oldest first; the tenant may have been deleted since. */
export async function natsUsersOf(pool: Pool, tenant: string, options: { unrevoked?: boolean } = {}): Promise<NatsUser[]> {
  const only = options.unrevoked === true ? ' AND revoked_at IS NULL' : '';
  const result = await pool.query<Row>(`SELECT public_key, tenant, issued_at, revoked_at FROM ${NATS_USERS} WHERE tenant = $1${only} ORDER BY issued_at, public_key`, [assertTenantId(tenant)]);
  return result.rows.map(toUser);
}

/** Marks these users revoked as of `at` (the revocation's time in the account JWT). */
export async function markNatsUsersRevoked(pool: Pool, publicKeys: readonly string[], at: Date): Promise<void> {
  await pool.query(`UPDATE ${NATS_USERS} SET revoked_at = $2 WHERE public_key = ANY($1::text[]) AND revoked_at IS NULL`, [publicKeys, at]);
}
