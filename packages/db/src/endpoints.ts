import { randomBytes } from 'node:crypto';
import { assertTenantId } from '@switchyard/schema';
import type { Pool } from 'pg';
import { InvalidInputError, pgErrorCode, RowShapeError, TenantNotFoundError } from './errors.ts';
import { CONTROL_SCHEMA, quoteIdent } from './identifiers.ts';
import {
  bool,
  date,
  dateOrNull,
  int,
  intOrNull,
  stringRecord,
  text,
  textArray,
  textOrNull,
  type Row,
} from './rows.ts';

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
  /** The endpoint's own retry schedule (waits after each failed attempt); null: the service default. */
  retryDelaysMs: number[] | null;
  /** Requests in flight to this endpoint at once; null: the service default. */
  maxConcurrency: number | null;
  /** Requests started per second; null: the service default. */
  rateLimitPerSecond: number | null;
  /** The secret being rotated out: it still signs, beside `secret`, until `previousSecretExpiresAt`. */
  previousSecret: string | null;
  previousSecretExpiresAt: Date | null;
  /** Why the dispatcher disabled the endpoint (e.g. HTTP 410); null when enabled or disabled by hand. */
  disabledReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface AddEndpointInput {
  url: string;
  eventTypes?: readonly string[];
  headers?: Readonly<Record<string, string>>;
  timeoutMs?: number;
  retryDelaysMs?: readonly number[] | null;
  maxConcurrency?: number | null;
  rateLimitPerSecond?: number | null;
  enabled?: boolean;
}

/** Fields left out stay as they are; `null` resets a setting to the service default. */
export type UpdateEndpointInput = Partial<AddEndpointInput>;

const ENDPOINTS = `${quoteIdent(CONTROL_SCHEMA)}.webhook_endpoints`;
const COLUMNS =
  'id, tenant_id, url, event_types, enabled, secret, headers, timeout_ms, retry_delays_ms, max_concurrency, ' +
  'rate_limit_per_second, previous_secret, previous_secret_expires_at, disabled_reason, created_at, updated_at';
const MAX_TIMEOUT_MS = 60_000;
const MAX_RETRY_DELAYS = 99;
// A day: longer waits belong to an operator's re-send, not to a schedule that pins a message.
const MAX_RETRY_DELAY_MS = 24 * 60 * 60 * 1000;
// RFC 7230 token characters: anything else cannot be sent as a header name.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// A field value: visible characters, spaces and tabs (RFC 9110 5.5); anything else is refused on the wire.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/**
 * Headers the dispatcher owns: the message framing and the connection (the HTTP client sets them,
 * and refuses a request that names them), and where the request goes (the endpoint's URL).
 */
export const RESERVED_ENDPOINT_HEADERS: ReadonlySet<string> = new Set([
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'upgrade', 'expect', 'te', 'trailer',
]);

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
    retryDelaysMs: row['retry_delays_ms'] === null ? null : intArray(row, 'retry_delays_ms'),
    maxConcurrency: intOrNull(row, 'max_concurrency'),
    rateLimitPerSecond: intOrNull(row, 'rate_limit_per_second'),
    previousSecret: textOrNull(row, 'previous_secret'),
    previousSecretExpiresAt: dateOrNull(row, 'previous_secret_expires_at'),
    disabledReason: textOrNull(row, 'disabled_reason'),
    createdAt: date(row, 'created_at'),
    updatedAt: date(row, 'updated_at'),
  };
}

function intArray(row: Row, column: string): number[] {
  const value = row[column];
  if (!Array.isArray(value) || !value.every((v): v is number => Number.isSafeInteger(v))) {
    throw new RowShapeError(column, 'int[]', value);
  }
  return value;
}

function validateUrl(raw: string): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (error) {
    throw new InvalidInputError(`endpoint url is not a URL: ${raw.slice(0, 200)}`, {
      cause: error,
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidInputError(`endpoint url must be http(s), got ${url.protocol}`);
  }
  // Credentials in the URL would travel to every redirect target and show up in logs.
  if (url.username !== '' || url.password !== '') {
    throw new InvalidInputError('endpoint url must not carry credentials; use custom headers');
  }
}

function validateLimits(input: UpdateEndpointInput): void {
  const delays = input.retryDelaysMs;
  if (
    delays !== undefined &&
    delays !== null &&
    (delays.length > MAX_RETRY_DELAYS ||
      delays.some((d) => !Number.isSafeInteger(d) || d < 0 || d > MAX_RETRY_DELAY_MS))
  ) {
    throw new InvalidInputError(
      `retryDelaysMs must be at most ${MAX_RETRY_DELAYS} integers in 0..${MAX_RETRY_DELAY_MS}`,
    );
  }
  const concurrency = input.maxConcurrency;
  if (concurrency != null && (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 1000)) {
    throw new InvalidInputError('maxConcurrency must be an integer in 1..1000');
  }
  const rate = input.rateLimitPerSecond;
  if (rate != null && (!Number.isSafeInteger(rate) || rate < 1 || rate > 100_000)) {
    throw new InvalidInputError('rateLimitPerSecond must be an integer in 1..100000');
  }
}

function validateInput(input: UpdateEndpointInput): void {
  if (input.url !== undefined) validateUrl(input.url);
  validateLimits(input);
  if (input.eventTypes?.length === 0 || input.eventTypes?.some((t) => t.trim() === '')) {
    throw new InvalidInputError('eventTypes must be non-empty strings (use ["*"] for all)');
  }
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    if (!HEADER_NAME.test(name) || !HEADER_VALUE.test(value)) {
      throw new InvalidInputError(`invalid header ${JSON.stringify(name)}`);
    }
    if (RESERVED_ENDPOINT_HEADERS.has(name.toLowerCase())) {
      throw new InvalidInputError(`header ${JSON.stringify(name)} is set by the dispatcher and cannot be given`);
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
  const secret = newSigningSecret();
  try {
    const result = await pool.query<Row>(
      `INSERT INTO ${ENDPOINTS} (id, tenant_id, url, event_types, secret, headers, timeout_ms,
         retry_delays_ms, max_concurrency, rate_limit_per_second, enabled)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${COLUMNS}`,
      [
        id,
        tenant,
        input.url,
        [...(input.eventTypes ?? ['*'])],
        secret,
        JSON.stringify(input.headers ?? {}),
        input.timeoutMs ?? 10_000,
        input.retryDelaysMs == null ? null : [...input.retryDelaysMs],
        input.maxConcurrency ?? null,
        input.rateLimitPerSecond ?? null,
        input.enabled ?? true,
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

/**
 * Returns whether the endpoint existed for this tenant. `reason` says why the dispatcher turned
 * it off (shown to the tenant); enabling clears it.
 */
export async function setEndpointEnabled(
  pool: Pool,
  tenant: string,
  id: string,
  enabled: boolean,
  reason?: string,
): Promise<boolean> {
  assertTenantId(tenant);
  const result = await pool.query(
    `UPDATE ${ENDPOINTS} SET enabled = $3, disabled_reason = $4, updated_at = now()
      WHERE tenant_id = $1 AND id = $2`,
    [tenant, id, enabled, enabled ? null : (reason ?? null)],
  );
  return result.rowCount === 1;
}

// Column per patchable field; headers go in as JSON, arrays as Postgres arrays.
const PATCHABLE = {
  url: 'url',
  eventTypes: 'event_types',
  headers: 'headers',
  timeoutMs: 'timeout_ms',
  retryDelaysMs: 'retry_delays_ms',
  maxConcurrency: 'max_concurrency',
  rateLimitPerSecond: 'rate_limit_per_second',
  enabled: 'enabled',
} as const satisfies Record<keyof UpdateEndpointInput, string>;

/** Changes the given fields; null when the tenant has no such endpoint. */
export async function updateEndpoint(
  pool: Pool,
  tenant: string,
  id: string,
  patch: UpdateEndpointInput,
): Promise<Endpoint | null> {
  assertTenantId(tenant);
  validateInput(patch);
  const sets: string[] = [];
  const params: unknown[] = [tenant, id];
  for (const [field, column] of Object.entries(PATCHABLE) as [keyof UpdateEndpointInput, string][]) {
    const value = patch[field];
    if (value === undefined) continue;
    if ((field === 'url' || field === 'eventTypes' || field === 'headers' || field === 'timeoutMs' || field === 'enabled') && value === null) {
      throw new InvalidInputError(`${field} cannot be null`);
    }
    params.push(field === 'headers' ? JSON.stringify(value) : Array.isArray(value) ? [...(value as readonly unknown[])] : value);
    sets.push(`${column} = $${params.length}`);
  }
  if (patch.enabled === true) sets.push('disabled_reason = NULL');
  if (sets.length === 0) return getEndpoint(pool, tenant, id);
  const result = await pool.query<Row>(
    `UPDATE ${ENDPOINTS} SET ${sets.join(', ')}, updated_at = now()
      WHERE tenant_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
    params,
  );
  const row = result.rows[0];
  return row ? toEndpoint(row) : null;
}

/**
 * Replaces the signing secret. The old one keeps signing beside the new one for `overlapMs`
 * (0 retires it at once), so receivers can roll over without rejecting a delivery. Rotating
 * again inside an overlap drops the oldest secret: only two ever sign. Null when not found.
 */
export async function rotateEndpointSecret(
  pool: Pool,
  tenant: string,
  id: string,
  overlapMs: number,
): Promise<Endpoint | null> {
  assertTenantId(tenant);
  if (!Number.isSafeInteger(overlapMs) || overlapMs < 0 || overlapMs > 7 * 24 * 3600_000) {
    throw new InvalidInputError('overlap must be between 0 and 7 days');
  }
  const result = await pool.query<Row>(
    `UPDATE ${ENDPOINTS}
        SET previous_secret = CASE WHEN $4::bigint > 0 THEN secret END,
            previous_secret_expires_at = CASE WHEN $4::bigint > 0 THEN now() + $4::bigint * interval '1 millisecond' END,
            secret = $3, updated_at = now()
      WHERE tenant_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
    [tenant, id, newSigningSecret(), overlapMs],
  );
  const row = result.rows[0];
  return row ? toEndpoint(row) : null;
}

/** The secrets that sign a delivery made at `now`: the current one, then the one rotating out. */
export function signingSecrets(endpoint: Pick<Endpoint, 'secret' | 'previousSecret' | 'previousSecretExpiresAt'>, now = new Date()): string[] {
  const { previousSecret, previousSecretExpiresAt } = endpoint;
  const overlapping = previousSecret !== null && previousSecretExpiresAt !== null && previousSecretExpiresAt > now;
  return overlapping ? [endpoint.secret, previousSecret] : [endpoint.secret];
}

function newSigningSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}
