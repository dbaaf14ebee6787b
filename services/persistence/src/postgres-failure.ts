import { isConnectionError, pgErrorCode } from '@switchyard/db';

/**
 * Why a tenant-schema statement failed, as far as the next step is concerned:
 * - `unavailable`: Postgres is unreachable or restarting — retry later.
 * - `tenant-missing`: no schema or table (42P01, 3F000) — the tenant may be mid-provisioning, or gone.
 * - `bad-data`: a data exception (class 22), e.g. a NUL character that text/jsonb refuse; the
 *   same bytes will fail every time, so it is bad input, not an outage.
 * - `unknown`: anything else; retried until the delivery limit, then dead-lettered.
 */
export type PostgresFailure = 'unavailable' | 'tenant-missing' | 'bad-data' | 'unknown';

export function classifyPostgresFailure(err: unknown): PostgresFailure {
  if (isConnectionError(err)) return 'unavailable';
  const code = pgErrorCode(err);
  if (code === '42P01' || code === '3F000') return 'tenant-missing';
  if (code?.startsWith('22')) return 'bad-data';
  return 'unknown';
}
