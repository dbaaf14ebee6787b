import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deleteTenant,
  getMediaPurge,
  listMediaPurges,
  provisionTenant,
  type Pool,
} from '@switchyard/db';
import { createMetricsRegistry } from '@switchyard/runtime';
import {
  createTestPool,
  dropTestTenant,
  randomTenantId,
  startS3Server,
  testLogger,
  type S3Server,
} from '@switchyard/testing';
import { fsBlobStore, s3BlobStore, type BlobStore } from './blob-store.ts';
import { runMediaPurgePass, type MediaPurgeDeps } from './media-purge.ts';
import { mediaMetrics } from './metrics.ts';

const BUCKET = 'purge-media';
const DELAY = 5 * 60_000;

describe('media purge of deleted tenants', () => {
  let pool: Pool;
  let s3: S3Server;
  let client: S3Client;
  let dir: string;
  const tenants: string[] = [];

  beforeAll(async () => {
    pool = await createTestPool();
    s3 = await startS3Server();
    await s3.createBucket(BUCKET);
    client = new S3Client({
      region: s3.region,
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: s3.credentials,
    });
    dir = await mkdtemp(join(tmpdir(), 'switchyard-media-purge-'));
  });
  afterAll(async () => {
    for (const tenant of tenants) await dropTestTenant(pool, tenant);
    client.destroy();
    await s3.stop();
    await rm(dir, { recursive: true, force: true });
    await pool.end();
  });

  const stores: Record<string, () => BlobStore> = {
    s3: () =>
      s3BlobStore({
        bucket: BUCKET,
        region: s3.region,
        endpoint: s3.endpoint,
        forcePathStyle: true,
        prefix: 'wa/',
        credentials: s3.credentials,
      }),
    fs: () => fsBlobStore(join(dir, 'media')),
  };

  async function newTenant(): Promise<string> {
    const tenant = randomTenantId('purge');
    tenants.push(tenant);
    await provisionTenant(pool, tenant);
    return tenant;
  }

  async function put(store: BlobStore, key: string): Promise<void> {
    const file = join(dir, `blob-${Math.random().toString(36).slice(2)}`);
    await writeFile(file, key);
    await store.put(key, {
      file,
      size: Buffer.byteLength(key),
      sha256: createHash('sha256').update(key).digest(),
    });
    await rm(file);
  }

  async function keys(kind: string, tenant: string): Promise<string[]> {
    if (kind === 'fs') {
      const files = await readdir(join(dir, 'media', tenant), {
        recursive: true,
        withFileTypes: true,
      }).catch(() => []);
      return files
        .filter((f) => f.isFile())
        .map((f) => join(f.parentPath, f.name).slice(join(dir, 'media').length + 1))
        .sort();
    }
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `wa/${tenant}/` }),
    );
    return (page.Contents ?? []).map((o) => o.Key!.slice('wa/'.length)).sort();
  }

  function deps(store: BlobStore): MediaPurgeDeps {
    return {
      pool,
      store,
      logger: testLogger('media'),
      metrics: mediaMetrics(createMetricsRegistry('media')),
      delayMs: DELAY,
    };
  }
  const later = () => new Date(Date.now() + DELAY + 1_000);

  for (const kind of ['s3', 'fs'] as const) {
    it(`${kind}: removes every object of a deleted tenant once the delay passed, and nothing of a live one`, async () => {
      const store = stores[kind]!();
      const [gone, live] = [await newTenant(), await newTenant()];
      for (let i = 0; i < 3; i++) await put(store, `${gone}/phone-${i % 2}/ev-${i}`);
      await put(store, `${live}/phone-0/ev-0`);
      expect(await deleteTenant(pool, gone)).toBe(true);

      // Not due yet: downloads in flight at the deletion may still be storing.
      const early = await runMediaPurgePass(deps(store), { tenants: [gone, live] });
      expect(early.purged).toEqual([]);
      expect(await keys(kind, gone)).toHaveLength(3);

      const pass = await runMediaPurgePass(deps(store), { now: later(), tenants: [gone, live] });
      expect(pass).toEqual({ purged: [{ tenant: gone, objects: 3 }], failed: [], busy: [] });
      expect(await keys(kind, gone)).toEqual([]);
      expect(await keys(kind, live)).toEqual([`${live}/phone-0/ev-0`]);
      const [row] = (await listMediaPurges(pool, 1000)).filter((p) => p.tenant === gone);
      expect(row).toMatchObject({ objects: 3, attempts: 1, lastError: null });
      expect(row!.purgedAt).toBeInstanceOf(Date);
      // Done once: the next pass has nothing to do.
      expect(
        (await runMediaPurgePass(deps(store), { now: later(), tenants: [gone] })).purged,
      ).toEqual([]);
      store.close();
    });
  }

  for (const kind of ['s3', 'fs'] as const) {
    it(`${kind}: keeps what a tenant provisioned again under the same id stored after it came back`, async () => {
      const store = stores[kind]!();
      const tenant = await newTenant();
      await put(store, `${tenant}/phone-0/old`);
      // S3 keeps times to the second: the old object and the new tenant must not share one.
      await new Promise((r) => setTimeout(r, 1_100));
      await deleteTenant(pool, tenant);
      await provisionTenant(pool, tenant);
      await new Promise((r) => setTimeout(r, 1_100));
      await put(store, `${tenant}/phone-0/new`);

      const pass = await runMediaPurgePass(deps(store), { now: later(), tenants: [tenant] });
      expect(pass.purged).toEqual([{ tenant, objects: 1 }]);
      expect(await keys(kind, tenant)).toEqual([`${tenant}/phone-0/new`]);
      store.close();
    });
  }

  it('records a failed purge on its row, counts it, and finishes it on a later pass', async () => {
    const real = stores.s3!();
    const tenant = await newTenant();
    await put(real, `${tenant}/phone-0/ev-0`);
    await deleteTenant(pool, tenant);
    let refuse = true;
    const flaky: BlobStore = {
      ...real,
      deleteTenant: (...args) =>
        refuse ? Promise.reject(new Error('S3 said no: AccessDenied')) : real.deleteTenant(...args),
    };
    const d = deps(flaky);

    const failed = await runMediaPurgePass(d, { now: later(), tenants: [tenant] });
    expect(failed.failed).toEqual([{ tenant, error: 'S3 said no: AccessDenied' }]);
    const [pending] = (await listMediaPurges(pool, 1000)).filter((p) => p.tenant === tenant);
    expect(pending).toMatchObject({
      purgedAt: null,
      attempts: 1,
      lastError: 'S3 said no: AccessDenied',
    });
    expect((await d.metrics.purges.get()).values).toEqual([
      expect.objectContaining({ labels: { result: 'failed' }, value: 1 }),
    ]);

    refuse = false;
    const retried = await runMediaPurgePass(d, { now: later(), tenants: [tenant] });
    expect(retried.purged).toEqual([{ tenant, objects: 1 }]);
    expect(await getMediaPurge(pool, pending!.id)).toMatchObject({
      attempts: 2,
      lastError: null,
      objects: 1,
    });
    expect((await d.metrics.purgedObjects.get()).values[0]?.value).toBe(1);
    real.close();
  });

  it('lets two replicas take turns: the objects are removed and counted once', async () => {
    const store = stores.s3!();
    const tenant = await newTenant();
    for (let i = 0; i < 5; i++) await put(store, `${tenant}/phone-0/ev-${i}`);
    await deleteTenant(pool, tenant);
    const [a, b] = await Promise.all([
      runMediaPurgePass(deps(store), { now: later(), tenants: [tenant] }),
      runMediaPurgePass(deps(store), { now: later(), tenants: [tenant] }),
    ]);
    const objects = [...a.purged, ...b.purged].reduce((n, p) => n + p.objects, 0);
    expect(objects).toBe(5);
    expect(await keys('s3', tenant)).toEqual([]);
    const rows = (await listMediaPurges(pool, 1000)).filter((p) => p.tenant === tenant);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ objects: 5, attempts: 1 });
    store.close();
  });
});
