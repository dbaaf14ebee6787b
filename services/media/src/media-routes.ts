import { z } from 'zod';
import { getMediaJob, MEDIA_JOB_STATUSES, TenantNotFoundError, type MediaJobRecord, type Pool } from '@switchyard/db';
import { errorResponses, HttpError, type HttpServer, ok, operatorTenantQuery, successResponse, tenantOf } from '@switchyard/http';
import { eventIdSchema } from '@switchyard/schema';
import { BlobNotFoundError, type BlobStore } from './blob-store.ts';

const tenantQuery = operatorTenantQuery;
const errors = errorResponses(400, 401, 403, 404, 409);

const mediaSchema = z.object({
  event_id: z.string(),
  message_id: z.string(),
  instance: z.string(),
  kind: z.string(),
  mimetype: z.string().nullable(),
  file_name: z.string().nullable(),
  status: z.enum(MEDIA_JOB_STATUSES),
  attempts: z.number().int(),
  last_error: z.string().nullable(),
  size: z.number().int().nullable(),
  sha256: z.string().nullable(),
  stored_at: z.string().nullable(),
  created_at: z.string(),
  content_url: z.string().nullable().describe('This API\'s URL of the decrypted bytes (same API key), once stored'),
  download_url: z.string().nullable().describe('A presigned S3 URL that GETs the bytes without a key until download_url_expires_at (S3 stores only; reachable where the S3 endpoint is)'),
  download_url_expires_at: z.string().nullable(),
});

export interface MediaRoutesOptions {
  /** How long a presigned download URL is valid (MEDIA_URL_TTL). */
  urlTtlMs: number;
}

/**
 * What a tenant reads of its media: a job's state (`GET /api/media/:event_id`, by the id of the
 * message event that carried the media) and the decrypted bytes (`…/content`). The tenant is the
 * key's own, and the job is looked up in its schema only: another tenant's event id is not found.
 */
export function registerMediaRoutes(http: HttpServer, pool: Pool, store: BlobStore, options: MediaRoutesOptions): void {
  const findJob = async (tenant: string, eventId: string): Promise<MediaJobRecord> => {
    let job: MediaJobRecord | null;
    try {
      job = await getMediaJob(pool, tenant, eventId);
    } catch (err) {
      // An operator naming a tenant that is not provisioned.
      if (err instanceof TenantNotFoundError) throw new HttpError(404, 'TENANT_NOT_FOUND', `tenant ${tenant} is not provisioned`, { cause: err });
      throw err;
    }
    if (job === null) throw new HttpError(404, 'MEDIA_NOT_FOUND', `no media job for event ${eventId}: the event carried no media, or media has not read it yet`);
    return job;
  };

  http.get(
    '/api/media/:event_id',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'The media of one message event: its job state, and where to get the bytes once stored',
        tags: ['media'],
        params: z.object({ event_id: eventIdSchema }),
        querystring: z.strictObject(tenantQuery),
        response: { 200: successResponse(mediaSchema), ...errors },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const job = await findJob(tenant, request.params.event_id);
      const stored = job.status === 'stored' && job.storageUrl !== null;
      const download = stored ? await store.presign(job.storageUrl!, options.urlTtlMs) : undefined;
      return ok({
        event_id: job.eventId,
        message_id: job.messageId,
        instance: job.instance,
        kind: job.kind,
        mimetype: job.mimetype,
        file_name: job.fileName,
        status: job.status,
        attempts: job.attempts,
        last_error: job.lastError,
        size: job.size,
        sha256: job.sha256,
        stored_at: job.storedAt?.toISOString() ?? null,
        created_at: job.createdAt.toISOString(),
        content_url: stored ? `/api/media/${encodeURIComponent(job.eventId)}/content` : null,
        download_url: download ?? null,
        download_url_expires_at: download === undefined ? null : new Date(Date.now() + options.urlTtlMs).toISOString(),
      });
    },
  );

  http.get(
    '/api/media/:event_id/content',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'The decrypted bytes of one message event\'s media, with its mimetype',
        description:
          'The body is the file itself (Content-Type the message\'s mimetype, ETag its SHA-256). Errors are the usual JSON: 404 MEDIA_NOT_FOUND, 409 MEDIA_NOT_STORED while the job is pending or after it failed (GET /api/media/:event_id says which), 404 MEDIA_GONE when the object was removed from the store.',
        tags: ['media'],
        params: z.object({ event_id: eventIdSchema }),
        querystring: z.strictObject(tenantQuery),
      },
    },
    async (request, reply) => {
      const tenant = tenantOf(request);
      const job = await findJob(tenant, request.params.event_id);
      if (job.status !== 'stored' || job.storageUrl === null) {
        throw new HttpError(409, 'MEDIA_NOT_STORED', `the media of event ${job.eventId} is ${job.status}${job.lastError ? ` (${job.lastError})` : ''}`);
      }
      let object;
      try {
        object = await store.read(job.storageUrl);
      } catch (err) {
        if (err instanceof BlobNotFoundError) throw new HttpError(404, 'MEDIA_GONE', `the media of event ${job.eventId} was stored but is not in the media store any more: ${err.message}`, { cause: err });
        throw err;
      }
      reply.header('content-type', job.mimetype ?? 'application/octet-stream');
      reply.header('content-length', String(object.size));
      if (job.sha256 !== null) reply.header('etag', `"${job.sha256}"`);
      if (job.fileName !== null) {
        reply.header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(job.fileName)}`);
      }
      return reply.send(object.body);
    },
  );
}
