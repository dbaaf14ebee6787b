import type { Pool } from 'pg';
import { InvalidInputError, pgErrorCode, RowShapeError, TenantNotFoundError } from './errors.ts';
import { date, dateOrNull, int, intOrNull, text, textOrNull, type Row } from './rows.ts';
import { forTenant } from './tenant-db.ts';

export const MEDIA_JOB_STATUSES = ['pending', 'stored', 'failed'] as const;
export type MediaJobStatus = (typeof MEDIA_JOB_STATUSES)[number];

/** One row of a tenant's `media_jobs`: what the media service did with one message's media. */
export interface MediaJobRecord {
  eventId: string;
  messageId: string;
  instance: string;
  kind: string;
  mimetype: string | null;
  fileName: string | null;
  status: MediaJobStatus;
  /** Tries that ended in an error. */
  attempts: number;
  lastError: string | null;
  storageUrl: string | null;
  size: number | null;
  /** Base64 SHA-256 of the decrypted file. */
  sha256: string | null;
  storedAt: Date | null;
  /** The message's time; the tenant's event retention removes the job and its object with the message. */
  occurredAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

const COLUMNS = 'event_id, message_id, instance, kind, descriptor, status, attempts, last_error, storage_url, size, sha256, stored_at, occurred_at, created_at, updated_at';

function toMediaJob(row: Row): MediaJobRecord {
  const status = text(row, 'status');
  if (!(MEDIA_JOB_STATUSES as readonly string[]).includes(status)) throw new RowShapeError('status', 'media job status', status);
  const descriptor = row['descriptor'];
  if (typeof descriptor !== 'object' || descriptor === null) throw new RowShapeError('descriptor', 'json object', descriptor);
  const { mimetype, file_name: fileName } = descriptor as { mimetype?: unknown; file_name?: unknown };
  return {
    eventId: text(row, 'event_id'),
    messageId: text(row, 'message_id'),
    instance: text(row, 'instance'),
    kind: text(row, 'kind'),
    mimetype: typeof mimetype === 'string' ? mimetype : null,
    fileName: typeof fileName === 'string' ? fileName : null,
    status: status as MediaJobStatus,
    attempts: int(row, 'attempts'),
    lastError: textOrNull(row, 'last_error'),
    storageUrl: textOrNull(row, 'storage_url'),
    size: intOrNull(row, 'size'),
    sha256: textOrNull(row, 'sha256'),
    storedAt: dateOrNull(row, 'stored_at'),
    occurredAt: date(row, 'occurred_at'),
    createdAt: date(row, 'created_at'),
    updatedAt: date(row, 'updated_at'),
  };
}

async function query(pool: Pool, tenant: string, sql: string, params: readonly unknown[]): Promise<Row[]> {
  try {
    return (await forTenant(pool, tenant).query<Row>(sql, params)).rows;
  } catch (error) {
    // 42P01 undefined_table / 3F000 invalid_schema_name: the tenant was never provisioned or was deleted.
    const code = pgErrorCode(error);
    if (code === '42P01' || code === '3F000') throw new TenantNotFoundError(tenant, { cause: error });
    throw error;
  }
}

/** One message event's media job, or null when the event carried no media (or media has not read it). */
export async function getMediaJob(pool: Pool, tenant: string, eventId: string): Promise<MediaJobRecord | null> {
  const rows = await query(pool, tenant, `SELECT ${COLUMNS} FROM :SCHEMA.media_jobs WHERE event_id = $1`, [eventId]);
  return rows[0] === undefined ? null : toMediaJob(rows[0]);
}

export interface ListMediaJobsOptions {
  status?: MediaJobStatus;
  /** 1..1000 */
  limit: number;
}

/** A tenant's media jobs, most recently changed first (a job that keeps failing stays on top). */
export async function listMediaJobs(pool: Pool, tenant: string, options: ListMediaJobsOptions): Promise<MediaJobRecord[]> {
  if (!Number.isSafeInteger(options.limit) || options.limit < 1 || options.limit > 1000) throw new InvalidInputError('limit must be an integer in 1..1000');
  const rows = await query(
    pool,
    tenant,
    `SELECT ${COLUMNS} FROM :SCHEMA.media_jobs WHERE ($1::text IS NULL OR status = $1) ORDER BY updated_at DESC, event_id LIMIT $2`,
    [options.status ?? null, options.limit],
  );
  return rows.map(toMediaJob);
}
