import { randomBytes } from 'node:crypto';
import { assertTenantId } from '@switchyard/schema';
import type { Pool } from 'pg';
import { InvalidInputError, pgErrorCode, TenantNotFoundError } from './errors.ts';
import { CONTROL_SCHEMA, quoteIdent } from './identifiers.ts';
import { bool, date, int, stringRecord, text, textArray, type Row } from './rows.ts';

export interface Endpoint {
  id: string;
  tenant: string;
  url: string;
  /** Event types delivered to this endpoint; `*` matches all. */
  eventTypes: string[];
  enabled: boolean;
  /** Standard Webhooks signing secret, `whsec_<base64>`. */
  secret: string;
  /** Extra headers sent with every delivery. */
  headers: Record<string, string>;
  timeoutMs: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface AddEndpointInput {
  url: string;
  eventTypes?: readonly string[];
  headers?: Readonly<Record<string, string>>;
  timeoutMs?: number;
}

const ENDPOINTS = `${quoteIdent(CONTROL_SCHEMA)}.webhook_endpoints`;
const COLUMNS =
  'id, tenant_id, url, event_types, enabled, secret, headers, timeout_ms, created_at, updated_at';
const MAX_TIMEOUT_MS = 60_000;
// RFC 7230 token characters: anything else cannot be sent as a header name.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function toEndpoint(row: Row): Endpoint {
  return {
    id: text(row, 'id'),
    tenant: text(row, 'tenant_id'),
    url: text(row, 'url'),
    eventTypes: textArray(row, 'event_types'),
    enabled: bool(row, 'enabled'),
    secret: text(row, 'secret'),
    headers: stringRecord(row, 'headers'),
    timeoutMs: int(row, 'timeout_ms'),
    createdAt: date(row, 'created_at'),
    updatedAt: date(row, 'updated_at'),
  };
}

function validateInput(input: AddEndpointInput): void {
  let url: URL;
  try {
    url = new URL(input.url);
  } catch (error) {
    throw new InvalidInputError(`endpoint url is not a URL: ${input.url.slice(0, 200)}`, {
      cause: error,
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidInputError(`endpoint url must be http(s), got ${url.protocol}`);
  }
  if (input.eventTypes?.length === 0 || input.eventTypes?.some((t) => t.trim() === '')) {
    throw new InvalidInputError('eventTypes must be non-empty strings (use ["*"] for all)');
  }
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    if (!HEADER_NAME.test(name) || /[\r\n\0]/.test(value)) {
      throw new InvalidInputError(`invalid header ${JSON.stringify(name)}`);
    }
  }
  const timeout = input.timeoutMs;
  if (
    timeout !== undefined &&
    (!Number.isSafeInteger(timeout) || timeout < 1 || timeout > MAX_TIMEOUT_MS)
  ) {
    throw new InvalidInputError(`timeoutMs must be an integer in 1..${MAX_TIMEOUT_MS}`);
  }
}

/** Registers a webhook endpoint with a freshly generated signing secret. */
export async function addEndpoint(
  pool: Pool,
  tenant: string,
  input: AddEndpointInput,
): Promise<Endpoint> {
  assertTenantId(tenant);
  validateInput(input);
  const id = `ep_${randomBytes(8).toString('hex')}`;
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  try {
    const result = await pool.query<Row>(
      `INSERT INTO ${ENDPOINTS} (id, tenant_id, url, event_types, secret, headers, timeout_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
      [
        id,
        tenant,
        input.url,
        [...(input.eventTypes ?? ['*'])],
        secret,
        JSON.stringify(input.headers ?? {}),
        input.timeoutMs ?? 10_000,
      ],
    );
    const row = result.rows[0];
    if (!row) throw new Error('INSERT … RETURNING returned no row');
    return toEndpoint(row);
  } catch (error) {
    if (pgErrorCode(error) === '23503') throw new TenantNotFoundError(tenant, { cause: error });
    throw error;
  }
}

export async function listEndpoints(
  pool: Pool,
  tenant: string,
  options: { enabledOnly?: boolean } = {},
): Promise<Endpoint[]> {
  assertTenantId(tenant);
  const result = await pool.query<Row>(
    `SELECT ${COLUMNS} FROM ${ENDPOINTS}
      WHERE tenant_id = $1 AND ($2::boolean IS NOT TRUE OR enabled) ORDER BY created_at, id`,
    [tenant, options.enabledOnly ?? false],
  );
  return result.rows.map(toEndpoint);
}

export async function getEndpoint(
  pool: Pool,
  tenant: string,
  id: string,
): Promise<Endpoint | null> {
  assertTenantId(tenant);
  const result = await pool.query<Row>(
    `SELECT ${COLUMNS} FROM ${ENDPOINTS} WHERE tenant_id = $1 AND id = $2`,
    [tenant, id],
  );
  const row = result.rows[0];
  return row ? toEndpoint(row) : null;
}

/** Returns whether the endpoint existed for this tenant. */
export async function removeEndpoint(pool: Pool, tenant: string, id: string): Promise<boolean> {
  assertTenantId(tenant);
  const result = await pool.query(`DELETE FROM ${ENDPOINTS} WHERE tenant_id = $1 AND id = $2`, [
    tenant,
    id,
  ]);
  return result.rowCount === 1;
}

/** Returns whether the endpoint existed for this tenant. */
export async function setEndpointEnabled(
  pool: Pool,
  tenant: string,
  id: string,
  enabled: boolean,
): Promise<boolean> {
  assertTenantId(tenant);
  const result = await pool.query(
    `UPDATE ${ENDPOINTS} SET enabled = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
    [tenant, id, enabled],
  );
  return result.rowCount === 1;
}
