import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { envBool, envDuration, envEnum, envInt, envString, envUrl, envValue, loadConfig } from '@switchyard/runtime';
import { serviceEnv } from '@switchyard/service';

/** Where blobs land with MEDIA_STORE=fs when MEDIA_FS_DIR is not set (local runs; production uses S3 or a volume). */
export const DEFAULT_MEDIA_DIR = join(tmpdir(), 'switchyard-media');
/** Where a blob is decrypted to before it is stored, when MEDIA_WORK_DIR is not set. */
export const DEFAULT_WORK_DIR = join(tmpdir(), 'switchyard-media-work');

const optionalString = envValue((raw) => raw, 'expected a string', '');

export const mediaConfigSchema = z
  .object({
    ...serviceEnv(8084),
    /**
     * How long a replica that died keeps its in-flight events: a live one heartbeats every
     * download it holds (every half of this), so a long download is never redelivered meanwhile.
     */
    MEDIA_ACK_WAIT: envDuration('10s').describe('Ack wait of the media durables: how long the events a crashed media replica held wait before another takes them'),
    MEDIA_MAX_DELIVER: envInt({ min: 1, max: 100, default: 5 }).describe('Deliveries before an EVENTS message is dead-lettered by media (each a download attempt, on the consume loop\'s backoff)'),
    /**
     * EVENTS messages handled at once per tenant. Jobs are keyed by event and need no order, and
     * most events carry no media (acked at once): a window keeps media from trailing the pipeline
     * one round trip per event, and one slow download from holding up the tenant's other media.
     */
    MEDIA_CONCURRENCY: envInt({ min: 1, max: 1000, default: 64 }).describe('EVENTS messages (so downloads) handled at once per tenant by media'),
    /**
     * Downloads in flight in this process, whatever the tenant: MEDIA_CONCURRENCY bounds one
     * tenant, this bounds them all (sockets to the media host and S3, scratch files). An event
     * waiting for a slot is kept alive, not redelivered.
     */
    MEDIA_DOWNLOADS_IN_FLIGHT: envInt({ min: 1, max: 10_000, default: 32 }).describe('Downloads in flight per media process across all tenants (the rest wait for a slot)'),
    /** `s3` for production; `fs` writes under MEDIA_FS_DIR (local runs, or a mounted volume). */
    MEDIA_STORE: envEnum(['fs', 's3'], 'fs').describe('Where decrypted media is stored: fs (MEDIA_FS_DIR) or s3 (MEDIA_S3_*)'),
    MEDIA_FS_DIR: envString(DEFAULT_MEDIA_DIR).describe('Directory media is stored under with MEDIA_STORE=fs (<dir>/<tenant>/<instance>/<event id>)'),
    MEDIA_S3_BUCKET: optionalString.describe('Bucket with MEDIA_STORE=s3 (required then); credentials come from the AWS SDK\'s default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, web identity, instance role)'),
    MEDIA_S3_REGION: envString('us-east-1').describe('Region of the bucket'),
    /** MinIO, versitygw, Ceph RGW…; empty means AWS S3 itself. */
    MEDIA_S3_ENDPOINT: optionalString.describe('Endpoint of an S3-compatible server (empty: AWS S3)'),
    MEDIA_S3_FORCE_PATH_STYLE: envBool(false).describe('Address the bucket in the path (most S3-compatible servers need this) instead of the host name'),
    MEDIA_S3_PREFIX: optionalString.describe('Prefix of every object key (keys are <prefix><tenant>/<instance>/<event id>)'),
    /** Only this origin is ever fetched from: a descriptor's `url` elsewhere is refused (SSRF). */
    MEDIA_DOWNLOAD_BASE_URL: envUrl(['https', 'http'], 'https://mmg.whatsapp.net').describe('The media host blobs are fetched from (direct paths resolve against it; a url on another host is refused)'),
    MEDIA_DOWNLOAD_TIMEOUT: envDuration('2m').describe('Longest one download (headers and body) may take before it is retried'),
    /** WhatsApp documents go up to 2 GB; the default keeps one job's disk use bounded. */
    MEDIA_MAX_BYTES: envInt({ min: 1, default: 104_857_600 }).describe('Largest encrypted blob fetched; a larger one fails as PAYLOAD_TOO_LARGE (raise it, then requeue)'),
    MEDIA_URL_TTL: envDuration('15m').describe('How long a presigned download URL from GET /api/media/:event_id is valid (S3 stores)'),
    MEDIA_WORK_DIR: envString(DEFAULT_WORK_DIR).describe('Scratch directory a blob is decrypted to before it is stored'),
    /** Media of messages past their tenant's retention_days goes on this schedule (persistence drops the messages on its own). */
    MEDIA_RETENTION_INTERVAL: envDuration('1h').describe("How often media removes the stored media of messages past their tenant's event retention (retention_days)"),
    /** Deleted tenants' media (`tenant delete` leaves a row in media_purges) is looked for this often. */
    MEDIA_PURGE_INTERVAL: envDuration('1m').describe("How often media looks for deleted tenants whose stored media it must remove"),
    /** Downloads in flight when the tenant was deleted may still be storing: its objects go this long after. */
    MEDIA_PURGE_DELAY: envDuration('5m').describe("How long after a tenant is deleted its stored media is removed (downloads in flight at the deletion end first)"),
  })
  .superRefine((config, ctx) => {
    if (config.MEDIA_URL_TTL < 1_000 || config.MEDIA_URL_TTL > 7 * 24 * 3_600_000) {
      ctx.addIssue({ code: 'custom', path: ['MEDIA_URL_TTL'], message: 'between 1s and 7d (the longest S3 presigns)' });
    }
    if (config.MEDIA_RETENTION_INTERVAL < 1_000) {
      ctx.addIssue({ code: 'custom', path: ['MEDIA_RETENTION_INTERVAL'], message: 'at least 1s' });
    }
    if (config.MEDIA_PURGE_INTERVAL < 1_000) {
      ctx.addIssue({ code: 'custom', path: ['MEDIA_PURGE_INTERVAL'], message: 'at least 1s' });
    }
    if (config.MEDIA_PURGE_DELAY < 2 * config.MEDIA_DOWNLOAD_TIMEOUT) {
      ctx.addIssue({ code: 'custom', path: ['MEDIA_PURGE_DELAY'], message: `at least twice MEDIA_DOWNLOAD_TIMEOUT (${config.MEDIA_DOWNLOAD_TIMEOUT} ms), so no download of the deleted tenant is still storing` });
    }
    if (config.MEDIA_ACK_WAIT < 1_000) {
      ctx.addIssue({ code: 'custom', path: ['MEDIA_ACK_WAIT'], message: 'at least 1s, so heartbeats can keep a download in flight' });
    }
    if (config.MEDIA_STORE === 's3' && config.MEDIA_S3_BUCKET === '') {
      ctx.addIssue({ code: 'custom', path: ['MEDIA_S3_BUCKET'], message: 'is required with MEDIA_STORE=s3' });
    }
    if (config.MEDIA_S3_ENDPOINT !== '' && !URL.canParse(config.MEDIA_S3_ENDPOINT)) {
      ctx.addIssue({ code: 'custom', path: ['MEDIA_S3_ENDPOINT'], message: `must be a URL (got ${JSON.stringify(config.MEDIA_S3_ENDPOINT)})` });
    }
  });
export type MediaConfig = z.infer<typeof mediaConfigSchema>;

export function loadMediaConfig(env: NodeJS.ProcessEnv = process.env): MediaConfig {
  return loadConfig(mediaConfigSchema, env, { service: 'media' });
}
