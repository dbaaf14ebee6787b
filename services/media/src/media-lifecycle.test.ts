import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteTenant, forTenant, listMediaPurges, provisionTenant, setRetentionDays, type Pool } from '@switchyard/db';
import type { RunningService } from '@switchyard/service';
import { createScratchDatabase, createTestPool, eventually, randomTenantId, startNatsServer, TEST_DATABASE_URL, testLogger, testServiceEnv, type NatsServer, type ScratchDatabase } from '@switchyard/testing';
import { startMedia } from './app.ts';
import { fsBlobStore } from './blob-store.ts';
import { loadMediaConfig } from './config.ts';

/**
 * The media service's own periodic passes, wired as they run: a deleted tenant's media removed,
 * and media past a tenant's retention removed. On a database of its own, because the purge pass
 * takes every due deletion it finds, and the shared test database has other files' deletions.
 */
describe('media service lifecycle passes', () => {
  let database: ScratchDatabase;
  let pool: Pool;
  let nats: NatsServer;
  let dir: string;
  let media: RunningService | undefined;

  beforeAll(async () => {
    database = await createScratchDatabase(TEST_DATABASE_URL, 'sy_media_lifecycle');
    pool = await createTestPool({ url: database.url });
    nats = await startNatsServer();
    dir = await mkdtemp(join(tmpdir(), 'switchyard-media-lifecycle-'));
  });
  afterAll(async () => {
    await media?.stop();
    await pool.end();
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
    await database.drop();
  });

  it("removes a deleted tenant's objects and the media of messages past a tenant's retention, and says so in its metrics", async () => {
    const store = fsBlobStore(join(dir, 'media'));
    const put = async (key: string): Promise<string> => {
      const file = join(dir, `src-${randomBytes(4).toString('hex')}`);
      await writeFile(file, key);
      const url = await store.put(key, { file, size: Buffer.byteLength(key), sha256: createHash('sha256').update(key).digest() });
      await rm(file);
      return url;
    };
    const files = async (tenant: string): Promise<string[]> =>
      (await readdir(join(dir, 'media', tenant), { recursive: true, withFileTypes: true }).catch(() => []))
        .filter((f) => f.isFile())
        .map((f) => f.name)
        .sort();

    // Keeps events for 30 days: its message from last year goes, today's stays.
    const keeping = randomTenantId('keep');
    await provisionTenant(pool, keeping);
    await setRetentionDays(pool, keeping, 30);
    const job = async (eventId: string, occurredAt: Date) =>
      forTenant(pool, keeping).query(
        `INSERT INTO :SCHEMA.media_jobs (event_id, message_id, instance, kind, descriptor, status, storage_url, occurred_at)
         VALUES ($1, 'M-' || $1, 'phone-1', 'image', '{"kind":"image"}', 'stored', $2, $3)`,
        [eventId, await put(`${keeping}/phone-1/${eventId}`), occurredAt],
      );
    await job('last-year', new Date(Date.now() - 365 * 86_400_000));
    await job('today', new Date());
    // Deleted: every object of it goes.
    const gone = randomTenantId('gone');
    await provisionTenant(pool, gone);
    await put(`${gone}/phone-1/a`);
    await put(`${gone}/phone-2/b`);
    await deleteTenant(pool, gone);

    media = await startMedia(
      loadMediaConfig(
        testServiceEnv(nats.url, {
          DATABASE_URL: database.url,
          MEDIA_STORE: 'fs',
          MEDIA_FS_DIR: join(dir, 'media'),
          MEDIA_WORK_DIR: join(dir, 'work'),
          MEDIA_DOWNLOAD_TIMEOUT: '1s',
          MEDIA_PURGE_DELAY: '2s',
          MEDIA_PURGE_INTERVAL: '1s',
          MEDIA_RETENTION_INTERVAL: '1s',
        }),
      ),
      { logger: testLogger('media') },
    );

    await eventually(async () => ((await files(gone)).length === 0 ? true : undefined), 15_000, "the deleted tenant's objects removed");
    await eventually(async () => ((await files(keeping)).length === 1 ? true : undefined), 15_000, 'the expired object removed');
    expect(await files(keeping)).toEqual(['today']);
    const { rows } = await forTenant(pool, keeping).query<{ event_id: string }>('SELECT event_id FROM :SCHEMA.media_jobs');
    expect(rows.map((r) => r.event_id)).toEqual(['today']);
    expect((await listMediaPurges(pool)).map((p) => [p.tenant, p.objects, p.purgedAt !== null])).toEqual([[gone, 2, true]]);

    const metrics = await eventually(async () => {
      const text = await (await fetch(`${media!.address.url}/metrics`)).text();
      return /^media_purges_pending\{service="media"\} 0$/m.test(text) ? text : undefined;
    }, 10_000, 'the purge backlog gauge at 0');
    expect(metrics).toMatch(/^media_purged_objects_total\{service="media"\} 2$/m);
    expect(metrics).toMatch(new RegExp(`^media_expired_objects_total\\{tenant="${keeping}",service="media"\\} 1$`, 'm'));
    expect(metrics).toMatch(/^media_purges_total\{result="purged",service="media"\} 1$/m);
  });
});
