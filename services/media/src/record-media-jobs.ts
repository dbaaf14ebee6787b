import { isConnectionError, type Pool } from '@switchyard/db';
import { ack, retry, type Handler, type Outcome } from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import { handleEnvelopes } from '@switchyard/service';
import { insertPendingJob } from './media-job-store.ts';
import { mediaJobFor } from './media-job.ts';
import type { MediaMetrics } from './metrics.ts';

export interface RecordMediaJobsDeps {
  pool: Pool;
  logger: Logger;
  metrics: MediaMetrics;
}

/**
 * EVENTS → `media_jobs`: every event whose data carries a media descriptor gets exactly one
 * pending job (the download, decryption and storage that act on it come later); every other
 * event is acked untouched. The ack follows the insert, so a crash in between only replays an
 * idempotent insert. Behind the envelope guard, because the job lands in `msg.tenant`'s schema.
 */
export function recordMediaJobs(deps: RecordMediaJobsDeps): Handler {
  return handleEnvelopes(deps.logger, async (event, msg): Promise<Outcome> => {
    const job = mediaJobFor(event);
    if (job === undefined) return ack();
    try {
      const created = await insertPendingJob(deps.pool, msg.tenant, job);
      if (created) deps.metrics.jobsCreated.inc({ tenant: msg.tenant, kind: job.kind });
      return ack();
    } catch (err) {
      // Postgres being away is not the event's fault: wait for it. Anything else is thrown so
      // the consume loop applies its own classification (non-retryable → DLQ at once).
      if (isConnectionError(err)) return retry(`postgres unavailable: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
  });
}
