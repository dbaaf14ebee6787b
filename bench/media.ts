// `pnpm bench media [--jobs N] [--size BYTES] [--blobs N] [--out f.json]`: the media service
// (in-process: EVENTS → job → fetch, verify, decrypt → S3 → media.stored → job stored) against
// the raw I/O of the same work in the same run: each encrypted blob fetched from the same local
// media host through undici and put as-is into the same S3 server (versitygw), as many in flight
// as the service's download slots (media_ratio). Also the fetch alone, CPU per job, and event → stored latency.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { connect, type NatsConnection } from 'nats';
import { Agent, request } from 'undici';
import { forTenant, type Pool } from '@switchyard/db';
import { announceTenant, NATS_CLIENT_TUNING, publishEvent } from '@switchyard/nats';
import { eventsSubject, newEventId } from '@switchyard/schema';
import { createTestPool, createTestTenant, randomName, startNatsServer, startS3Server, testLogger, testServiceEnv, type S3Server } from '@switchyard/testing';
import { startMedia } from '../services/media/src/app.ts';
import { loadMediaConfig } from '../services/media/src/config.ts';
import { encryptBlob, startBlobServer, type BlobServer } from '../services/media/src/test-support.ts';
import { cpuUsPer, numberArg, progress, ratio, round, runBench, summarizeLatencies, type BenchArgs } from './lib/mod.ts';

const BUCKET = 'bench-media';
/** The service's default MEDIA_DOWNLOADS_IN_FLIGHT: the raw loop keeps as many in flight. */
const CONCURRENCY = 32;

interface Blob {
  path: string;
  descriptor: Record<string, unknown>;
}

export default async function media(args: BenchArgs): Promise<void> {
  const jobs = numberArg(args, 'jobs', 2_000);
  const size = numberArg(args, 'size', 64 * 1024);
  const blobCount = Math.max(1, numberArg(args, 'blobs', 8));
  await runBench('media', args, async (ctx) => {
    const nats = await startNatsServer();
    const nc = await connect({ servers: nats.url, ...NATS_CLIENT_TUNING });
    const pool = await createTestPool();
    const s3 = await startS3Server();
    await s3.createBucket(BUCKET);
    const host = await startBlobServer();
    const blobs: Blob[] = [];
    for (let i = 0; i < blobCount; i++) {
      const blob = await encryptBlob('image', size);
      const path = `/v/t62.7118-24/bench-${i}.enc`;
      host.serve(path, { body: blob.encrypted });
      blobs.push({ path, descriptor: { ...blob.descriptor, direct_path: path } });
    }
    const bucket = randomName('tenants');
    // Its own scratch directory, removed afterwards, rather than the default under the temp dir.
    const workDir = await mkdtemp(join(tmpdir(), 'switchyard-bench-media-'));
    const env = testServiceEnv(nats.url, {
      MEDIA_WORK_DIR: workDir,
      MEDIA_STORE: 's3',
      MEDIA_S3_BUCKET: BUCKET,
      MEDIA_S3_ENDPOINT: s3.endpoint,
      MEDIA_S3_FORCE_PATH_STYLE: 'true',
      MEDIA_DOWNLOAD_BASE_URL: host.url,
      MEDIA_DOWNLOADS_IN_FLIGHT: String(CONCURRENCY),
      DATABASE_POOL_MAX: '8',
    });
    const service = await startMedia(loadMediaConfig(env), { logger: testLogger('media'), tenantBucket: bucket, s3Credentials: s3.credentials });
    const cleanups: (() => Promise<void>)[] = [];
    try {
      const phaseOf = async (label: string, count: number) => {
        const created = await createTestTenant(pool, 'md');
        cleanups.push(() => created.cleanup());
        await announceTenant(nc.jetstream(), created.tenant, {}, { bucket });
        await new Promise((r) => setTimeout(r, 500));
        return mediaPhase({ nc, pool, tenant: created.tenant, blobs, count, label, bytes: size });
      };
      const warmUp = Math.min(jobs, 200);
      ctx.log(`warm-up: ${warmUp} jobs through media, ${warmUp} raw fetch + put`);
      await phaseOf('warm-up', warmUp);
      await rawPhase({ host, s3, blobs, count: warmUp, store: true });

      ctx.log(`raw: ${jobs} fetches, then ${jobs} fetch + put, ${CONCURRENCY} in flight`);
      const rawFetch = await rawPhase({ host, s3, blobs, count: jobs, store: false });
      const rawFetchStore = await rawPhase({ host, s3, blobs, count: jobs, store: true });
      ctx.log(`media: ${jobs} jobs of ${size} bytes`);
      const measured = await phaseOf('media', jobs);
      return {
        media_ratio: ratio(measured.per_second, rawFetchStore.per_second),
        // CPU of the raw fetch + put ÷ CPU of a whole job (this process: service, host, load).
        media_cpu_ratio: ratio(rawFetchStore.cpu_us_per_job, measured.cpu_us_per_job),
        raw_fetch: rawFetch,
        raw_fetch_store: rawFetchStore,
        media: measured,
        blob_bytes: size,
        notes: 'media = one media-bearing event published to EVENTS → its job stored: the job row, the fetch from the media host, the MAC/hash checks and AES-256-CBC decryption into a scratch file, the S3 PutObject (with its SHA-256), media.stored published to INGEST, the job marked stored; raw_fetch_store = the same encrypted bytes fetched with undici and put as-is into the same S3, nothing else; the media host runs in this process in both',
      };
    } finally {
      await service.stop();
      for (const cleanup of cleanups) await cleanup();
      await host.stop();
      await s3.stop();
      await rm(workDir, { recursive: true, force: true });
      await pool.end();
      await nc.close();
      await nats.stop();
    }
  });
}

async function mediaPhase(options: { nc: NatsConnection; pool: Pool; tenant: string; blobs: Blob[]; count: number; label: string; bytes: number }) {
  const { nc, pool, tenant, blobs, count } = options;
  const js = nc.jetstream();
  const encoder = new TextEncoder();
  const load = Array.from({ length: count }, (_, i) => {
    const id = newEventId();
    const now = new Date().toISOString();
    const body = JSON.stringify({
      id, tenant, instance: 'phone-1', type: 'message.received', schema_version: 1, occurred_at: now, captured_at: now, seq: i + 1, source: 'baileys',
      data: { message_id: `M${i}`, chat_jid: '5511999999999@s.whatsapp.net', from_me: false, timestamp: now, message_type: 'imageMessage', media: blobs[i % blobs.length]!.descriptor },
    });
    return { id, data: encoder.encode(body) };
  });
  const bar = progress(options.label, count);
  const sentAt = new Map<string, number>();
  const cpu = process.cpuUsage();
  const inflight = new Set<Promise<unknown>>();
  for (const { id, data } of load) {
    sentAt.set(id, Date.now());
    const p = publishEvent(js, eventsSubject(tenant, 'phone-1', 'message.received'), data, { msgId: id }).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= 256) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  const deadline = Date.now() + 600_000;
  for (;;) {
    const { rows } = await forTenant(pool, tenant).query<{ stored: string; failed: string }>(
      "SELECT count(*) FILTER (WHERE status = 'stored') AS stored, count(*) FILTER (WHERE status = 'failed') AS failed FROM :SCHEMA.media_jobs",
    );
    const stored = Number(rows[0]!.stored);
    bar.update(stored);
    if (Number(rows[0]!.failed) > 0) throw new Error(`${rows[0]!.failed} media jobs failed in the bench`);
    if (stored >= count) break;
    if (Date.now() > deadline) throw new Error(`only ${stored}/${count} media jobs stored`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const cpuPerJob = cpuUsPer(cpu, count);
  bar.done();
  const { rows } = await forTenant(pool, tenant).query<{ event_id: string; at: Date }>('SELECT event_id, stored_at AS at FROM :SCHEMA.media_jobs');
  // Up to the last job's own stored_at, not to the poll that noticed it.
  const last = Math.max(...rows.map((r) => r.at.getTime()));
  const first = Math.min(...sentAt.values());
  const seconds = (last - first) / 1000;
  return {
    jobs: rows.length,
    seconds: round(seconds),
    per_second: Math.round(rows.length / seconds),
    mib_per_second: round((rows.length * options.bytes) / seconds / 2 ** 20),
    latency: summarizeLatencies(rows.map((r) => r.at.getTime() - (sentAt.get(r.event_id) ?? r.at.getTime()))),
    cpu_us_per_job: cpuPerJob,
  };
}

async function rawPhase(options: { host: BlobServer; s3: S3Server; blobs: Blob[]; count: number; store: boolean }) {
  const { host, s3, blobs, count } = options;
  const dispatcher = new Agent({ connections: CONCURRENCY });
  const client = new S3Client({ region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials });
  const prefix = randomName('raw');
  try {
    const cpu = process.cpuUsage();
    const started = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        const response = await request(`${host.url}${blobs[i % blobs.length]!.path}`, { dispatcher });
        const body = Buffer.from(await response.body.arrayBuffer());
        if (response.statusCode !== 200) throw new Error(`raw fetch answered ${response.statusCode}`);
        if (options.store) await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/${i}`, Body: body, ContentLength: body.length }));
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = (performance.now() - started) / 1000;
    return { count, seconds: round(seconds), per_second: Math.round(count / seconds), cpu_us_per_job: cpuUsPer(cpu, count) };
  } finally {
    client.destroy();
    await dispatcher.close();
  }
}
