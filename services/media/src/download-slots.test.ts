import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forTenant } from '@switchyard/db';
import { publishEvent } from '@switchyard/nats';
import { eventsSubject } from '@switchyard/schema';
import type { RunningService } from '@switchyard/service';
import { eventually, startServiceHarness, type ServiceHarness } from '@switchyard/testing';
import { startMedia } from './app.ts';
import { loadMediaConfig } from './config.ts';
import { encryptBlob, messageEvent, startBlobServer, type BlobServer } from './test-support.ts';

describe('media downloads across tenants', () => {
  let h: ServiceHarness<RunningService>;
  let host: BlobServer;
  let dir: string;

  beforeAll(async () => {
    host = await startBlobServer();
    dir = await mkdtemp(join(tmpdir(), 'media-slots-'));
    h = await startServiceHarness({
      service: 'media',
      env: { MEDIA_STORE: 'fs', MEDIA_FS_DIR: dir, MEDIA_DOWNLOAD_BASE_URL: host.url, MEDIA_DOWNLOADS_IN_FLIGHT: '2' },
      start: (env, options) => startMedia(loadMediaConfig(env), options),
    });
  });

  afterAll(async () => {
    await h?.stop();
    await host?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('never runs more than MEDIA_DOWNLOADS_IN_FLIGHT at once, whatever the tenants, and stores every one', async () => {
    const tenants = [await h.addTenant(), await h.addTenant()];
    const blob = await encryptBlob('image', 2_000);
    host.serve('/slow.enc', { body: blob.encrypted, delayMs: 400 });
    const events = tenants.flatMap((tenant) => Array.from({ length: 4 }, () => messageEvent(tenant, { message_type: 'imageMessage', media: { ...blob.descriptor, direct_path: '/slow.enc' } })));
    await Promise.all(events.map((event) => publishEvent(h.js, eventsSubject(event['tenant'] as string, 'phone-1', 'message.received'), new TextEncoder().encode(JSON.stringify(event)), { msgId: event.id })));

    let sawWaiting = false;
    await eventually(async () => {
      const metrics = await (await fetch(`${h.url}/metrics`)).text();
      if (/^media_downloads_waiting(\{[^}]*\})? [1-9]/m.test(metrics)) sawWaiting = true;
      let stored = 0;
      for (const tenant of tenants) {
        const { rows } = await forTenant(h.pool, tenant).query<{ n: string }>("SELECT count(*) AS n FROM :SCHEMA.media_jobs WHERE status = 'stored'");
        stored += Number(rows[0]!.n);
      }
      return stored === events.length ? true : undefined;
    }, 30_000, 'all eight jobs stored');
    expect(host.hits('/slow.enc')).toBe(8);
    expect(host.maxInFlight()).toBe(2);
    expect(sawWaiting).toBe(true);
  });
});
