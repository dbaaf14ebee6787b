import { forTenant, type MediaJobStatus, type Pool } from '@switchyard/db';
import type { MediaJob } from './media-job.ts';

/**
 * Records a job as `pending` unless it exists, and returns the job's status either way.
 * Idempotent by event id: a redelivered or re-published event finds its job and changes nothing.
 */
export async function recordJob(pool: Pool, tenant: string, job: MediaJob): Promise<{ created: boolean; status: MediaJobStatus }> {
  const { rows } = await forTenant(pool, tenant).query<{ status: MediaJobStatus; created: boolean }>(
    `WITH created AS (
       INSERT INTO :SCHEMA.media_jobs (event_id, message_id, instance, kind, descriptor, status, occurred_at)
       VALUES ($1, $2, $3, $4, $5, 'pending', $6)
       ON CONFLICT (event_id) DO NOTHING
       RETURNING status
     )
     SELECT status, true AS created FROM created
     UNION ALL
     SELECT status, false AS created FROM :SCHEMA.media_jobs WHERE event_id = $1
     LIMIT 1`,
    [job.eventId, job.messageId, job.instance, job.kind, JSON.stringify(job.descriptor), job.occurredAt],
  );
  const row = rows[0];
  if (row === undefined) throw new Error(`media job ${job.eventId} neither inserted nor found`);
  return row;
}

export interface StoredJob {
  storageUrl: string;
  size: number;
  /** Base64, as in `media.stored`. */
  sha256: string;
}

export async function markJobStored(pool: Pool, tenant: string, eventId: string, stored: StoredJob): Promise<void> {
  await forTenant(pool, tenant).query(
    `UPDATE :SCHEMA.media_jobs
        SET status = 'stored', storage_url = $2, size = $3, sha256 = $4, last_error = NULL,
            stored_at = now(), updated_at = now()
      WHERE event_id = $1`,
    [eventId, stored.storageUrl, stored.size, stored.sha256],
  );
}

/**
 * Counts a try that ended in `error`. `failed` when no retry can help (the event is being
 * dead-lettered); the job stays `pending` while the consume loop will try again.
 */
export async function markJobAttemptFailed(pool: Pool, tenant: string, eventId: string, error: string, status: 'pending' | 'failed'): Promise<void> {
  await forTenant(pool, tenant).query(
    `UPDATE :SCHEMA.media_jobs
        SET attempts = attempts + 1, last_error = $2, status = $3, updated_at = now()
      WHERE event_id = $1 AND status <> 'stored'`,
    [eventId, error.slice(0, 2000), status],
  );
}
