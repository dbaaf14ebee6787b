import { performance } from 'node:perf_hooks';
import { isConnectionError, type Pool } from '@switchyard/db';
import { ack, deadLetter, publishEvent, retry, type Handler, type Outcome } from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import { deriveEventId, encodeEnvelope, ingestSubject, STREAMS, type EnvelopeOf, type EventEnvelope } from '@switchyard/schema';
import { handleEnvelopes } from '@switchyard/service';
import type { JetStreamClient } from 'nats';
import type { DownloadedMedia, MediaDownloader } from './media-download.ts';
import { MediaFailure } from './media-failure.ts';
import { markJobAttemptFailed, markJobStored, recordJob } from './media-job-store.ts';
import { mediaJobFor, type MediaJob } from './media-job.ts';
import type { MediaMetrics } from './metrics.ts';

export interface MediaEventsDeps {
  pool: Pool;
  js: JetStreamClient;
  logger: Logger;
  metrics: MediaMetrics;
  download: MediaDownloader;
}

/**
 * EVENTS → stored media. Every event whose data carries a media descriptor gets one job
 * (`media_jobs`, keyed by the event id); the blob is fetched, decrypted, verified and stored,
 * `media.stored` is published to INGEST, and only then is the job marked stored and the event
 * acked. Each step repeats harmlessly after a crash: the object's key and the `media.stored` id
 * derive from the source event, so a retry overwrites the same object and its `media.stored` is
 * a duplicate by `Nats-Msg-Id` (and by primary key in persistence). An event whose job is
 * already stored (a replay, a redelivery) is acked without a download.
 *
 * A failure no retry can help (the blob gone at WhatsApp, failing its checks, too large) marks
 * the job failed and dead-letters the event at once, so it lands in `exhausted_events` with the
 * reason; anything else is retried on the consume loop's backoff until MEDIA_MAX_DELIVER.
 */
export function handleMediaEvents(deps: MediaEventsDeps): Handler {
  return handleEnvelopes(deps.logger, async (event, msg): Promise<Outcome> => {
    const job = mediaJobFor(event);
    if (job === undefined) return ack();
    const tenant = msg.tenant;
    let recorded;
    try {
      recorded = await recordJob(deps.pool, tenant, job);
    } catch (err) {
      // Postgres being away is not the event's fault: wait for it. Anything else is thrown so
      // the consume loop applies its own classification (non-retryable → DLQ at once).
      if (isConnectionError(err)) return retry(`postgres unavailable: ${messageOf(err)}`);
      throw err;
    }
    if (recorded.created) deps.metrics.jobsCreated.inc({ tenant, kind: job.kind });
    if (recorded.status === 'stored') return ack();

    const started = performance.now();
    const labels = { tenant, kind: job.kind };
    try {
      const stored = await deps.download(tenant, job);
      await publishStored(deps.js, event, job, stored);
      await markJobStored(deps.pool, tenant, job.eventId, stored);
      deps.metrics.downloads.inc({ ...labels, result: 'stored' });
      deps.metrics.downloadedBytes.inc(labels, stored.size);
      deps.metrics.downloadSeconds.observe({ result: 'stored' }, (performance.now() - started) / 1000);
      return ack();
    } catch (err) {
      const error = messageOf(err);
      deps.metrics.downloadSeconds.observe({ result: err instanceof MediaFailure ? 'failed' : 'retry' }, (performance.now() - started) / 1000);
      if (err instanceof MediaFailure) {
        deps.metrics.downloads.inc({ ...labels, result: err.reason });
        deps.logger.warn({ tenant, instance: job.instance, event_id: job.eventId, reason: err.reason, error }, 'media job failed for good; dead-lettering its event');
        try {
          await markJobAttemptFailed(deps.pool, tenant, job.eventId, `${err.reason}: ${error}`, 'failed');
        } catch (markErr) {
          // Unrecorded, the failure would leave the job looking pending: try the event again.
          return retry(`media job ${job.eventId} failed (${err.reason}) but could not be marked: ${messageOf(markErr)}`);
        }
        return deadLetter(err.reason, error);
      }
      deps.metrics.downloads.inc({ ...labels, result: 'retry' });
      try {
        await markJobAttemptFailed(deps.pool, tenant, job.eventId, error, 'pending');
      } catch (markErr) {
        deps.logger.warn({ tenant, event_id: job.eventId, err: markErr }, 'could not record a media attempt; the event is retried anyway');
      }
      return retry(`media job ${job.eventId}: ${error}`);
    }
  });
}

/** `media.stored` for a job, with an id derived from the source event so a re-publish is a duplicate. */
export function mediaStoredEvent(source: EventEnvelope, job: MediaJob, stored: DownloadedMedia, now = new Date()): EnvelopeOf<'media.stored'> {
  const at = now.toISOString();
  return {
    id: deriveEventId('media.stored', source.tenant, job.eventId),
    tenant: source.tenant,
    instance: source.instance,
    type: 'media.stored',
    schema_version: 1,
    occurred_at: at,
    captured_at: at,
    source: source.source,
    correlation_id: source.correlation_id ?? source.id,
    data: {
      message_id: job.messageId,
      source_event_id: job.eventId,
      kind: job.kind,
      ...(job.descriptor.mimetype !== undefined ? { mimetype: job.descriptor.mimetype } : {}),
      size: stored.size,
      sha256: stored.sha256,
      storage_url: stored.storageUrl,
    },
  };
}

async function publishStored(js: JetStreamClient, source: EventEnvelope, job: MediaJob, stored: DownloadedMedia): Promise<void> {
  const event = mediaStoredEvent(source, job, stored);
  await publishEvent(js, ingestSubject(event.tenant, event.instance, event.type), encodeEnvelope(event), {
    msgId: event.id,
    expectStream: STREAMS.ingest,
  });
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
