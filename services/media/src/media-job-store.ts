import { forTenant, type Pool } from '@switchyard/db';
import type { MediaJob } from './media-job.ts';

/**
 * Records a job as `pending`. Idempotent by event id: a redelivered or re-published event finds
 * its job already there and changes nothing, whatever state the job has reached since.
 * @returns true when this call created the job.
 */
export async function insertPendingJob(pool: Pool, tenant: string, job: MediaJob): Promise<boolean> {
  const result = await forTenant(pool, tenant).query(
    `INSERT INTO :SCHEMA.media_jobs (event_id, message_id, instance, kind, descriptor, status)
     VALUES ($1, $2, $3, $4, $5, 'pending')
     ON CONFLICT (event_id) DO NOTHING`,
    [job.eventId, job.messageId, job.instance, job.kind, JSON.stringify(job.descriptor)],
  );
  return result.rowCount === 1;
}
