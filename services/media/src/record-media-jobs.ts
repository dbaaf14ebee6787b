import { isConnectionError, type Pool } from '@switchyard/db';
import { ack, deadLetter, retry, type Handler, type InboundMessage, type Outcome } from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import { parseEnvelope, type DlqReason } from '@switchyard/schema';
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
 * idempotent insert.
 */
export function recordMediaJobs(deps: RecordMediaJobsDeps): Handler {
  return async (msg: InboundMessage): Promise<Outcome> => {
    const parsed = parseEnvelope(msg.data);
    if (!parsed.ok) return reject(deps, msg, parsed.code, parsed.message);
    const event = parsed.event;
    // The router guarantees this; checked again because the job lands in `msg.tenant`'s schema.
    if (event.tenant !== msg.tenant) {
      return reject(deps, msg, 'TENANT_MISMATCH', `event of tenant ${event.tenant} consumed for ${msg.tenant}`);
    }

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
  };
}

function reject(deps: RecordMediaJobsDeps, msg: InboundMessage, reason: DlqReason, error: string): Outcome {
  deps.metrics.rejected.inc({ tenant: msg.tenant, reason });
  deps.logger.warn({ tenant: msg.tenant, subject: msg.subject, reason, error }, 'event rejected by media');
  return deadLetter(reason, error);
}
