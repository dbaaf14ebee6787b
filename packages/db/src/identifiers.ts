import { createHash } from 'node:crypto';
import { assertTenantId } from '@switchyard/schema';

/** The schema holding tenants, API keys, webhook endpoints and unattributable exhausted events. */
export const CONTROL_SCHEMA = 'switchyard';

/** Postgres silently truncates longer identifiers, which could merge two tenants' schemas. */
const MAX_IDENTIFIER_LENGTH = 63;

/** Quotes an SQL identifier; the only way a name reaches SQL text in this package. */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\0')) throw new Error('invalid SQL identifier');
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * `tenant_<id>` (unquoted). Tenant ids may be 63 characters, which with the prefix exceeds
 * Postgres' identifier limit; such ids keep a prefix and get a hash suffix so that two long ids
 * sharing a prefix can never land in the same schema.
 */
export function tenantSchemaName(tenant: string): string {
  const id = assertTenantId(tenant);
  const plain = `tenant_${id}`;
  if (plain.length <= MAX_IDENTIFIER_LENGTH) return plain;
  const digest = createHash('sha256').update(id).digest('hex').slice(0, 16);
  const keep = MAX_IDENTIFIER_LENGTH - 'tenant_'.length - 1 - digest.length;
  return `tenant_${id.slice(0, keep)}_${digest}`;
}
