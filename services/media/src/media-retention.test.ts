import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forTenant, listMediaJobs, type Pool } from '@switchyard/db';
import { createMetricsRegistry } from '@switchyard/runtime';
import { createTestPool, createTestTenant, startS3Server, testLogger, type S3Server, type TestTenant } from '@switchyard/testing';
import { s3BlobStore, type BlobStore } from './blob-store.ts';
import { expireTenantMedia } from './media-retention.ts';
import { mediaMetrics } from './metrics.ts';

describe('media retention', () => {
  const BUCKET = 'retention-media';
  let pool: Pool;
  let s3: S3Server;
  let client: S3Client;
  let store: BlobStore;
  let dir: string;
  let t: TestTenant;

  beforeAll(async () => {
    pool = await createTestPool();
    s3 = await startS3Server();
    await s3.createBucket(BUCKET);
    client = new S3Client({ region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials });
    store = s3BlobStore({ bucket: BUCKET, region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, prefix: '', credentials: s3.credentials });
    dir = await mkdtemp(join(tmpdir(), 'switchyard-media-retention-'));
    t = await createTestTenant(pool, 'ret');
  });
  afterAll(async () => {
    await t.cleanup();
    store.close();
    client.destroy();
    await s3.stop();
    await rm(dir, { recursive: true, force: true });
    await pool.end();
  });

  /** A job of a message at `occurredAt`, with its object stored when `status` is stored. */
  async function job(eventId: string, occurredAt: string, status: 'pending' | 'stored' | 'failed', elsewhere?: string): Promise<void> {
    let url: string | null = elsewhere ?? null;
    if (status === 'stored' && elsewhere === undefined) {
      const file = join(dir, eventId);
      await writeFile(file, eventId);
      url = await store.put(`${t.tenant}/phone-1/${eventId}`, { file, size: eventId.length, sha256: createHash('sha256').update(eventId).digest() });
    }
    await forTenant(pool, t.tenant).query(
      `INSERT INTO :SCHEMA.media_jobs (event_id, message_id, instance, kind, descriptor, status, storage_url, occurred_at)
       VALUES ($1, 'M-' || $1, 'phone-1', 'image', '{"kind":"image"}', $2, $3, $4)`,
      [eventId, status, url, occurredAt],
    );
  }

  const objects = async () =>
    ((await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${t.tenant}/` }))).Contents ?? []).map((o) => o.Key!.split('/').pop()).sort();

  it("removes the objects and jobs of messages past the tenant's retention, and nothing newer or still pending", async () => {
    await job('old-stored-1', '2026-08-03T10:00:00Z', 'stored');
    await job('old-stored-2', '2026-09-30T23:59:59Z', 'stored');
    await job('old-failed', '2026-09-10T00:00:00Z', 'failed');
    await job('old-pending', '2026-09-11T00:00:00Z', 'pending');
    await job('kept-stored', '2026-10-01T00:00:00Z', 'stored');
    // Stored before the service moved to this bucket: its job goes, its object is only reported.
    await job('old-elsewhere', '2026-09-01T00:00:00Z', 'stored', 'file:///var/lib/switchyard/media/old');
    const metrics = mediaMetrics(createMetricsRegistry('media'));
    const deps = { pool, store, logger: testLogger('media'), metrics };

    const removed = await expireTenantMedia(deps, t.tenant, 30, new Date('2026-11-25T12:00:00Z'));
    expect(removed).toBe(2);
    expect(await objects()).toEqual(['kept-stored']);
    const left = await listMediaJobs(pool, t.tenant, { limit: 100 });
    expect(left.map((j) => j.eventId).sort()).toEqual(['kept-stored', 'old-pending']);
    expect((await metrics.expiredObjects.get()).values).toEqual([expect.objectContaining({ labels: { tenant: t.tenant }, value: 2 })]);

    // Once the pending job ended, the next pass takes it; a tenant keeping everything loses nothing.
    await forTenant(pool, t.tenant).query(`UPDATE :SCHEMA.media_jobs SET status = 'failed' WHERE event_id = 'old-pending'`);
    expect(await expireTenantMedia(deps, t.tenant, 0, new Date('2026-11-25T12:00:00Z'))).toBe(0);
    expect(await expireTenantMedia(deps, t.tenant, 30, new Date('2026-11-25T12:00:00Z'))).toBe(0);
    expect((await listMediaJobs(pool, t.tenant, { limit: 100 })).map((j) => j.eventId)).toEqual(['kept-stored']);
  });
});
