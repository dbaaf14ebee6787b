import { attemptSchema, dlqReasonSchema, SYSTEM_TENANT } from '@switchyard/schema';
import type { Attempt, DlqReason, DlqRecord } from '@switchyard/schema';
import type { Pool, QueryResult } from 'pg';
import { InvalidInputError, pgErrorCode, RowShapeError, TenantNotFoundError } from './errors.ts';
import { CONTROL_SCHEMA, quoteIdent } from './identifiers.ts';
import { bool, bytes, date, dateOrNull, int, text, textOrNull, type Row } from './rows.ts';
import { forTenant } from './tenant-db.ts';

export type ExhaustedStatus = 'open' | 'requeued' | 'discarded';

export interface ExhaustedEvent {
  /** bigserial, as text so it never loses precision. */
  id: string;
  dlqKey: string;
  /** Only in the system table: the tenant the message claimed, which could not be used. */
  claimedTenant: string | null;
  eventId: string | null;
  service: string;
  sourceStream: string;
  sourceSubject: string;
  sourceSeq: number;
  consumer: string;
  reason: DlqReason;
  error: string;
  retryable: boolean;
  deliveries: number;
  attempts: Attempt[];
  headers: Record<string, string[]>;
  /** The original message bytes. */
  payload: Buffer;
  failedAt: Date;
  exhaustedAt: Date;
  status: ExhaustedStatus;
  requeuedAt: Date | null;
}

export interface ListExhaustedOptions {
  status?: ExhaustedStatus;
  reason?: DlqReason;
  /** 1..1000 */
  limit: number;
  /** Keyset pagination: only rows with a smaller id than this one. */
  beforeId?: string;
}

const COLUMNS = `id, dlq_key, event_id, service, source_stream, source_subject, source_seq, consumer, reason,
  error, retryable, deliveries, attempts, headers, payload, failed_at, exhausted_at, status, requeued_at`;
function isExhaustedStatus(value: string): value is ExhaustedStatus {
  return value === 'open' || value === 'requeued' || value === 'discarded';
}
const attemptsSchema = attemptSchema.array();

/** Which table: the tenant's own, or the control schema's for SYSTEM_TENANT. */
function run(
  pool: Pool,
  tenant: string,
  sql: string,
  params: readonly unknown[],
): Promise<QueryResult<Row>> {
  if (tenant === SYSTEM_TENANT) {
    return pool.query<Row>(sql.replaceAll(':SCHEMA.', `${quoteIdent(CONTROL_SCHEMA)}.`), [
      ...params,
    ]);
  }
  return forTenant(pool, tenant)
    .query<Row>(sql, params)
    .catch((error: unknown) => {
      // 42P01 undefined_table / 3F000 invalid_schema_name: the tenant was never provisioned or was deleted.
      const code = pgErrorCode(error);
      if (code === '42P01' || code === '3F000')
        throw new TenantNotFoundError(tenant, { cause: error });
      throw error;
    });
}

function toExhausted(row: Row): ExhaustedEvent {
  const reason = dlqReasonSchema.safeParse(row.reason);
  if (!reason.success) throw new RowShapeError('reason', 'DLQ reason', row.reason);
  const attempts = attemptsSchema.safeParse(row.attempts);
  if (!attempts.success) throw new RowShapeError('attempts', 'Attempt[]', row.attempts);
  const status = text(row, 'status');
  if (!isExhaustedStatus(status)) throw new RowShapeError('status', 'exhausted status', status);
  return {
    id: text(row, 'id'),
    dlqKey: text(row, 'dlq_key'),
    claimedTenant: 'claimed_tenant' in row ? textOrNull(row, 'claimed_tenant') : null,
    eventId: textOrNull(row, 'event_id'),
    service: text(row, 'service'),
    sourceStream: text(row, 'source_stream'),
    sourceSubject: text(row, 'source_subject'),
    sourceSeq: int(row, 'source_seq'),
    consumer: text(row, 'consumer'),
    reason: reason.data,
    error: text(row, 'error'),
    retryable: bool(row, 'retryable'),
    deliveries: int(row, 'deliveries'),
    attempts: attempts.data,
    headers: headerRecord(row),
    payload: bytes(row, 'payload'),
    failedAt: date(row, 'failed_at'),
    exhaustedAt: date(row, 'exhausted_at'),
    status,
    requeuedAt: dateOrNull(row, 'requeued_at'),
  };
}

function headerRecord(row: Row): Record<string, string[]> {
  const value = row.headers;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RowShapeError('headers', 'jsonb object', value);
  }
  const out: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(value)) {
    if (!Array.isArray(values) || !values.every((v): v is string => typeof v === 'string')) {
      throw new RowShapeError(`headers.${name}`, 'string[]', values);
    }
    out[name] = values;
  }
  return out;
}

/** The idempotency key of a DLQ record: one row per (stream message, consumer) however often it arrives. */
export function dlqKey(
  record: Pick<DlqRecord, 'source_stream' | 'source_seq' | 'consumer'>,
): string {
  return `${record.source_stream}:${record.source_seq}:${record.consumer}`;
}

/**
 * Stores an exhausted message in the tenant's table (or, for SYSTEM_TENANT, the control schema's,
 * with `record.tenant` kept as the claimed tenant). Idempotent on the DLQ key, so the dlq-worker
 * may re-run it after a crash before its ack. Throws TenantNotFoundError when the tenant's schema
 * does not exist; the caller should then record it under SYSTEM_TENANT so nothing is lost.
 */
export async function recordExhausted(
  pool: Pool,
  tenant: string,
  record: DlqRecord,
): Promise<{ inserted: boolean }> {
  const system = tenant === SYSTEM_TENANT;
  const params: unknown[] = [
    dlqKey(record),
    record.event_id ?? null,
    record.service,
    record.source_stream,
    record.source_subject,
    record.source_seq,
    record.consumer,
    record.reason,
    record.error,
    record.retryable,
    record.deliveries,
    JSON.stringify(record.attempts),
    JSON.stringify(record.headers),
    Buffer.from(record.payload_base64, 'base64'),
    record.failed_at,
  ];
  if (system) params.push(record.tenant);
  const result = await run(
    pool,
    tenant,
    `INSERT INTO :SCHEMA.exhausted_events
       (dlq_key, event_id, service, source_stream, source_subject, source_seq, consumer, reason, error,
        retryable, deliveries, attempts, headers, payload, failed_at${system ? ', claimed_tenant' : ''})
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15${system ? ', $16' : ''})
     ON CONFLICT (dlq_key) DO NOTHING`,
    params,
  );
  return { inserted: result.rowCount === 1 };
}

/** Newest first. */
export async function listExhausted(
  pool: Pool,
  tenant: string,
  options: ListExhaustedOptions,
): Promise<ExhaustedEvent[]> {
  const { limit } = options;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) {
    throw new InvalidInputError('limit must be an integer in 1..1000');
  }
  if (options.beforeId !== undefined && !/^\d{1,19}$/.test(options.beforeId)) {
    throw new InvalidInputError('beforeId must be a row id');
  }
  const system = tenant === SYSTEM_TENANT;
  const result = await run(
    pool,
    tenant,
    `SELECT ${COLUMNS}${system ? ', claimed_tenant' : ''} FROM :SCHEMA.exhausted_events
      WHERE ($1::text IS NULL OR status = $1)
        AND ($2::text IS NULL OR reason = $2)
        AND ($3::bigint IS NULL OR id < $3)
      ORDER BY id DESC LIMIT $4`,
    [options.status ?? null, options.reason ?? null, options.beforeId ?? null, limit],
  );
  return result.rows.map(toExhausted);
}

export async function getExhausted(
  pool: Pool,
  tenant: string,
  id: string,
): Promise<ExhaustedEvent | null> {
  if (!/^\d{1,19}$/.test(id)) return null;
  const system = tenant === SYSTEM_TENANT;
  const result = await run(
    pool,
    tenant,
    `SELECT ${COLUMNS}${system ? ', claimed_tenant' : ''} FROM :SCHEMA.exhausted_events WHERE id = $1`,
    [id],
  );
  const row = result.rows[0];
  return row ? toExhausted(row) : null;
}

/**
 * Closes an open row as requeued or discarded. Only `open` rows change, so two SREs acting at
 * once cannot requeue the same message twice; returns whether this call made the change.
 */
export async function setExhaustedStatus(
  pool: Pool,
  tenant: string,
  id: string,
  status: 'requeued' | 'discarded',
): Promise<boolean> {
  if (!/^\d{1,19}$/.test(id)) return false;
  const result = await run(
    pool,
    tenant,
    `UPDATE :SCHEMA.exhausted_events
        SET status = $2, requeued_at = CASE WHEN $2 = 'requeued' THEN now() ELSE requeued_at END
      WHERE id = $1 AND status = 'open'`,
    [id, status],
  );
  return result.rowCount === 1;
}
