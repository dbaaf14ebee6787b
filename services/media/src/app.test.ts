import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createApiKey, forTenant } from '@switchyard/db';
import { publishEvent } from '@switchyard/nats';
import {
  deriveEventId,
  dlqRecordSchema,
  dlqSubject,
  durableName,
  eventsSubject,
  ingestSubject,
  newEventId,
  STREAMS,
  validateEnvelope,
  type DlqRecord,
} from '@switchyard/schema';
import type { RunningService } from '@switchyard/service';
import { decodeJson, eventually, randomName, readStream, startS3Server, startServiceHarness, type S3Server, type ServiceHarness } from '@switchyard/testing';
import { startMedia } from './app.ts';
import { loadMediaConfig } from './config.ts';
import { encryptBlob, messageEvent, startBlobServer, type BlobServer, type EncryptedBlob } from './test-support.ts';

interface JobRow {
  event_id: string;
  kind: string;
  status: string;
  attempts: number;
  last_error: string | null;
  storage_url: string | null;
  size: string | null;
  sha256: string | null;
  occurred_at: Date;
}

const BUCKET = 'media-test';

describe('media service', () => {
  let h: ServiceHarness<RunningService>;
  let s3: S3Server;
  let host: BlobServer;
  let client: S3Client;
  let tenant: string;

  beforeAll(async () => {
    s3 = await startS3Server();
    await s3.createBucket(BUCKET);
    host = await startBlobServer();
    client = new S3Client({ region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials });
    h = await startServiceHarness({
      service: 'media',
      env: {
        MEDIA_STORE: 's3',
        MEDIA_S3_BUCKET: BUCKET,
        MEDIA_S3_ENDPOINT: s3.endpoint,
        MEDIA_S3_FORCE_PATH_STYLE: 'true',
        MEDIA_S3_PREFIX: 'wa/',
        MEDIA_DOWNLOAD_BASE_URL: host.url,
        MEDIA_DOWNLOAD_TIMEOUT: '5s',
        MEDIA_MAX_BYTES: '200000',
        MEDIA_ACK_WAIT: '1s',
      },
      start: (env, options) => startMedia(loadMediaConfig(env), { ...options, s3Credentials: s3.credentials }),
    });
    tenant = await h.addTenant();
  });

  afterAll(async () => {
    await h?.stop();
    client?.destroy();
    await host?.stop();
    await s3?.stop();
  });

  const publish = (event: Record<string, unknown>, msgId: string = event['id'] as string, type = 'message.received', to = tenant) =>
    publishEvent(h.js, eventsSubject(to, 'phone-1', type), new TextEncoder().encode(JSON.stringify(event)), { msgId });

  const job = async (eventId: string, of = tenant): Promise<JobRow | undefined> =>
    (await forTenant(h.pool, of).query<JobRow>('SELECT event_id, kind, status, attempts, last_error, storage_url, size, sha256, occurred_at FROM :SCHEMA.media_jobs WHERE event_id = $1', [eventId])).rows[0];

  const jobReaches = (eventId: string, status: string, timeoutMs = 20_000): Promise<JobRow> =>
    eventually(async () => {
      const row = await job(eventId);
      return row?.status === status ? row : undefined;
    }, timeoutMs, `job ${eventId} ${status}`);

  /** A media message whose blob the host serves with `answers` (the blob itself when none). */
  async function mediaMessage(blob: EncryptedBlob, ...answers: Parameters<BlobServer['serve']>[1][]) {
    const path = `/v/t62.7118-24/${randomName('blob')}.enc`;
    host.serve(path, ...(answers.length > 0 ? answers : [{ body: blob.encrypted }]));
    const event = messageEvent(tenant, { message_type: 'imageMessage', media: { ...blob.descriptor, direct_path: `${path}?ccb=11-4&oh=x` } });
    return { event, path };
  }

  const objectBytes = async (key: string): Promise<Buffer> => {
    const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return Buffer.from(await got.Body!.transformToByteArray());
  };

  const dlqRecordFor = (eventId: string, of = tenant): Promise<DlqRecord> =>
    eventually(async () => {
      const messages = await readStream(h.nc, STREAMS.dlq, dlqSubject(of), 1, 2_000);
      return decodeJson(messages).map((m) => dlqRecordSchema.parse(m)).find((r) => r.service === 'media' && r.event_id === eventId);
    }, 20_000, `the DLQ record of ${eventId}`);

  it('fetches, decrypts, verifies and stores a message\'s media in S3, and announces it once as media.stored', async () => {
    const blob = await encryptBlob('image', 120_000);
    const { event, path } = await mediaMessage(blob);
    const text = messageEvent(tenant, { text: 'no media here' });
    await publish(text);
    await publish(event);

    const row = await jobReaches(event.id, 'stored');
    const key = `wa/${tenant}/phone-1/${event.id}`;
    expect(row).toMatchObject({ kind: 'image', attempts: 0, last_error: null, storage_url: `s3://${BUCKET}/${key}`, size: '120000', sha256: blob.descriptor.file_sha256 });
    // The message's time, so the tenant's event retention removes this media with it.
    expect(row.occurred_at).toEqual(new Date(event['occurred_at'] as string));
    expect((await objectBytes(key)).equals(blob.plain)).toBe(true);
    expect((await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).ContentType).toBe('image/jpeg');
    expect(await job(text.id)).toBeUndefined();
    expect(host.hits(path)).toBe(1);

    const stored = decodeJson<Record<string, unknown>>(await readStream(h.nc, STREAMS.ingest, ingestSubject(tenant, 'phone-1', 'media.stored'), 1));
    const mine = stored.filter((e) => (e['data'] as { source_event_id: string }).source_event_id === event.id);
    expect(mine).toHaveLength(1);
    const announced = validateEnvelope(mine[0]);
    expect(announced.ok).toBe(true);
    expect(mine[0]).toMatchObject({
      id: deriveEventId('media.stored', tenant, event.id),
      tenant,
      instance: 'phone-1',
      type: 'media.stored',
      source: 'baileys',
      correlation_id: event.id,
      data: {
        message_id: (event['data'] as { message_id: string }).message_id,
        source_event_id: event.id,
        kind: 'image',
        mimetype: 'image/jpeg',
        size: 120_000,
        sha256: blob.descriptor.file_sha256,
        storage_url: `s3://${BUCKET}/${key}`,
      },
    });

    // The same event again (a replay under another Nats-Msg-Id): acked on its stored job, no second download.
    await publish(event, `${event.id}:replay`);
    const marker = messageEvent(tenant, { message_type: 'imageMessage', media: { kind: 'image' } });
    await publish(marker);
    await eventually(async () => ((await job(marker.id))?.status === 'failed' ? true : undefined), 20_000, 'the marker event handled');
    await eventually(async () => {
      const info = await h.jsm.consumers.info(STREAMS.events, durableName('media', tenant));
      return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
    }, 20_000, 'the durable drained');
    expect(host.hits(path)).toBe(1);
    const again = decodeJson<{ data: { source_event_id: string } }>(await readStream(h.nc, STREAMS.ingest, ingestSubject(tenant, 'phone-1', 'media.stored'), 1));
    expect(again.filter((e) => e.data.source_event_id === event.id)).toHaveLength(1);

    const exposition = (await (await fetch(`${h.url}/metrics`)).text()).split('\n');
    const sample = (name: string, ...labels: string[]) =>
      exposition.filter((line) => line.startsWith(`${name}{`) && [`tenant="${tenant}"`, ...labels].every((l) => line.includes(l))).map((line) => Number(line.split(' ').at(-1)));
    expect(sample('media_downloads_total', 'kind="image"', 'result="stored"')).toEqual([1]);
    expect(sample('media_stored_bytes_total', 'kind="image"')).toEqual([120_000]);
    expect(sample('media_jobs_created_total', 'kind="image"')).toEqual([2]); // the photo and the marker
  });

  it('retries a host answering 500 and 429, recording each attempt, then stores the blob', async () => {
    const blob = await encryptBlob('image', 3_000);
    const { event, path } = await mediaMessage(blob, { status: 500, body: 'boom' }, { status: 429 }, { body: blob.encrypted });
    await publish(event);
    const row = await jobReaches(event.id, 'stored', 30_000);
    expect(row.attempts).toBe(2);
    expect(row.last_error).toBeNull();
    expect(host.hits(path)).toBe(3);
    expect((await objectBytes(`wa/${tenant}/phone-1/${event.id}`)).equals(blob.plain)).toBe(true);
  });

  it('keeps a download slower than the ack wait to itself: no redelivery starts a second one', async () => {
    const blob = await encryptBlob('video', 8_000, 'video/mp4');
    const { event, path } = await mediaMessage(blob, { body: blob.encrypted, delayMs: 3_000 });
    await publish(event);
    const row = await jobReaches(event.id, 'stored', 20_000);
    expect(row.attempts).toBe(0);
    expect(host.hits(path)).toBe(1);
    const info = await h.jsm.consumers.info(STREAMS.events, durableName('media', tenant));
    expect(info.config.ack_wait).toBe(1_000_000_000);
    expect(info.num_redelivered).toBe(0);
  });

  it('keeps a job pending while S3 is down and stores it once S3 is back', async () => {
    const blob = await encryptBlob('image', 4_000);
    const { event, path } = await mediaMessage(blob);
    await s3.kill();
    try {
      await publish(event);
      const pending = await eventually(async () => {
        const row = await job(event.id);
        return row !== undefined && row.attempts >= 1 ? row : undefined;
      }, 20_000, 'a failed attempt recorded');
      expect(pending.status).toBe('pending');
      expect(pending.last_error).not.toBeNull();
    } finally {
      await s3.start();
    }
    const row = await jobReaches(event.id, 'stored', 30_000);
    expect(row.storage_url).toBe(`s3://${BUCKET}/wa/${tenant}/phone-1/${event.id}`);
    expect(host.hits(path)).toBeGreaterThanOrEqual(2);
    expect((await objectBytes(`wa/${tenant}/phone-1/${event.id}`)).equals(blob.plain)).toBe(true);
  });

  it('dead-letters at once, with the reason, a blob that is gone, tampered with or too large, and stores nothing', async () => {
    const gone = await encryptBlob('image', 1_000);
    const goneMessage = await mediaMessage(gone, { status: 410, body: 'expired' });
    const tampered = await encryptBlob('document', 1_000, 'application/pdf');
    const flipped = Buffer.from(tampered.encrypted);
    flipped[50] = flipped[50]! ^ 0x01;
    const tamperedMessage = await mediaMessage(tampered, { body: flipped });
    const large = await encryptBlob('video', 250_000, 'video/mp4');
    const largeMessage = await mediaMessage(large);

    for (const m of [goneMessage, tamperedMessage, largeMessage]) await publish(m.event);

    const cases = [
      [goneMessage, 'MEDIA_UNAVAILABLE', 'answered 410: expired'],
      [tamperedMessage, 'MEDIA_INTEGRITY', 'is not the message\'s file_enc_sha256'],
      [largeMessage, 'PAYLOAD_TOO_LARGE', 'MEDIA_MAX_BYTES'],
    ] as const;
    for (const [m, reason, text] of cases) {
      const record = await dlqRecordFor(m.event.id);
      expect(record.reason).toBe(reason);
      expect(record.retryable).toBe(false);
      expect(record.deliveries).toBe(1);
      expect(record.error).toContain(text);
      expect(JSON.parse(Buffer.from(record.payload_base64, 'base64').toString('utf8'))).toEqual(m.event);
      const row = await jobReaches(m.event.id, 'failed');
      expect(row.attempts).toBe(1);
      expect(row.last_error).toContain(reason);
      expect(row.storage_url).toBeNull();
      expect(host.hits(m.path)).toBe(1);
      const missing = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: `wa/${tenant}/phone-1/${m.event.id}` })).then(() => 'found', (e: Error) => e.name);
      expect(missing).toBe('NoSuchKey');
    }
  });

  it('answers a tenant its media by event id: the job, the bytes, a presigned URL; never another tenant\'s', async () => {
    const blob = await encryptBlob('document', 9_000, 'application/pdf');
    const { event } = await mediaMessage(blob);
    (event['data'] as { media: Record<string, unknown> }).media['file_name'] = 'factura año.pdf';
    await publish(event);
    await jobReaches(event.id, 'stored');
    const key = (await createApiKey(h.pool, { tenant, role: 'read' })).key;
    const other = await h.addTenant();
    const otherKey = (await createApiKey(h.pool, { tenant: other, role: 'read' })).key;
    const get = (path: string, apiKey?: string) => fetch(`${h.url}${path}`, apiKey === undefined ? {} : { headers: { authorization: `Bearer ${apiKey}` } });

    const info = await get(`/api/media/${event.id}`, key);
    expect(info.status).toBe(200);
    const { data } = (await info.json()) as { data: Record<string, unknown> };
    expect(data).toMatchObject({
      event_id: event.id,
      instance: 'phone-1',
      kind: 'document',
      mimetype: 'application/pdf',
      file_name: 'factura año.pdf',
      status: 'stored',
      attempts: 0,
      size: 9_000,
      sha256: blob.descriptor.file_sha256,
      content_url: `/api/media/${event.id}/content`,
    });
    // The presigned URL needs no key, and expires.
    expect(Date.parse(data['download_url_expires_at'] as string)).toBeGreaterThan(Date.now());
    const presigned = await fetch(data['download_url'] as string);
    expect(presigned.status).toBe(200);
    expect(Buffer.from(await presigned.arrayBuffer()).equals(blob.plain)).toBe(true);

    const content = await get(`/api/media/${event.id}/content`, key);
    expect(content.status).toBe(200);
    expect(content.headers.get('content-type')).toBe('application/pdf');
    expect(content.headers.get('etag')).toBe(`"${blob.descriptor.file_sha256}"`);
    expect(content.headers.get('content-disposition')).toBe("attachment; filename*=UTF-8''factura%20a%C3%B1o.pdf");
    expect(Buffer.from(await content.arrayBuffer()).equals(blob.plain)).toBe(true);

    // Another tenant's key does not find it; no key is refused.
    for (const path of [`/api/media/${event.id}`, `/api/media/${event.id}/content`]) {
      const foreign = await get(path, otherKey);
      expect(foreign.status).toBe(404);
      expect(((await foreign.json()) as { error: { code: string } }).error.code).toBe('MEDIA_NOT_FOUND');
      expect((await get(path)).status).toBe(401);
    }

    // A job that failed has no bytes to give; an object removed from the store is said to be gone.
    const failed = messageEvent(tenant, { message_type: 'imageMessage', media: { kind: 'image' } });
    await publish(failed);
    await jobReaches(failed.id, 'failed');
    const notStored = await get(`/api/media/${failed.id}/content`, key);
    expect(notStored.status).toBe(409);
    expect(((await notStored.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'MEDIA_NOT_STORED' });
    await rm(join(s3.root, BUCKET, 'wa', tenant, 'phone-1', event.id));
    const gone = await get(`/api/media/${event.id}/content`, key);
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as { error: { code: string } }).error.code).toBe('MEDIA_GONE');
  });

  it('reads only the types that can carry media: receipts and other events never reach it', async () => {
    const other = await h.addTenant();
    const receipt = {
      ...messageEvent(other, {}),
      type: 'message.read',
      data: { message_id: randomName('msg'), chat_jid: '5511999999999@s.whatsapp.net', from_me: true, status: 'read', timestamp: '2026-11-23T10:00:01.000Z' },
    };
    const blob = await encryptBlob('image', 500);
    const { path } = await mediaMessage(blob);
    const photo = messageEvent(other, { message_type: 'imageMessage', media: { ...blob.descriptor, direct_path: path } });
    await publish(receipt, receipt.id, 'message.read', other);
    await publish(photo, photo.id, 'message.received', other);

    await eventually(async () => {
      const { rows } = await forTenant(h.pool, other).query<{ status: string }>('SELECT status FROM :SCHEMA.media_jobs WHERE event_id = $1', [photo.id]);
      return rows[0]?.status === 'stored' ? true : undefined;
    }, 20_000, "the photo's job stored");
    const info = await h.jsm.consumers.info(STREAMS.events, durableName('media', other));
    expect(info.config.filter_subjects).toEqual([`v1.events.${other}.*.message.received`, `v1.events.${other}.*.message.sent`]);
    // The receipt was stored in EVENTS first, yet the durable delivered one message: the photo.
    expect(info.delivered.consumer_seq).toBe(1);
  });

  it('dead-letters an invalid envelope with its raw bytes', async () => {
    const raw = JSON.stringify({ id: newEventId(), tenant, type: 'message.received', data: {} });
    const msgId = newEventId();
    await publishEvent(h.js, eventsSubject(tenant, 'phone-1', 'message.received'), new TextEncoder().encode(raw), { msgId });
    const record = await dlqRecordFor(msgId);
    expect(record.reason).toBe('SCHEMA_INVALID');
    expect(record.retryable).toBe(false);
    expect(Buffer.from(record.payload_base64, 'base64').toString('utf8')).toBe(raw);
  });
});
