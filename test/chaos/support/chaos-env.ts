import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { createPool, type Pool } from '@switchyard/db';
import {
  createScratchDatabase,
  randomTenantId,
  startNatsServer,
  startS3Server,
  TEST_DATABASE_URL,
  type NatsServer,
  type S3Server,
  type ScratchDatabase,
} from '@switchyard/testing';
import {
  encryptBlob,
  startBlobServer,
  type BlobServer,
} from '../../../services/media/src/test-support.ts';
import { CHAOS_SPOOL_ROOT } from './capture-driver-ids.ts';
import { createTenantWithEndpoint, switchyardCli } from '../../../bench/fleet/cli.ts';
import {
  startCountingReceiver,
  type CountingReceiver,
} from '../../../bench/fleet/counting-receiver.ts';
import {
  startProcessFleet,
  type ProcessFleet,
  type ServiceName,
} from '../../../bench/fleet/process-fleet.ts';

/**
 * Retry schedules short enough that a fault and its recovery fit in a test, and still longer in
 * total than any outage a scenario causes (the receiver is down 20 s; webhook retries span 39 s),
 * so a scenario shows recovery rather than premature dead-lettering.
 */
export const CHAOS_SERVICE_ENV = {
  WEBHOOK_RETRY_DELAYS: '0s,1s,2s,4s,8s,8s,8s,8s',
  WEBHOOK_ENDPOINT_CACHE_TTL: '1s',
  // The receiver is on loopback, which the SSRF guard refuses unless allow-listed.
  WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
  // An open circuit waits this long before probing: short, so recovery reflects the outage, not the cooldown.
  CB_COOLDOWN: '2s',
  PERSISTENCE_RETRY_BACKOFF: '200ms,500ms,1s,2s',
  DLQ_RETRY_BACKOFF: '200ms,500ms,1s,2s',
  CAPTURE_RETRY_INITIAL: '100ms',
  CAPTURE_RETRY_MAX: '1s',
  CAPTURE_PUBLISH_TIMEOUT: '2s',
  SHUTDOWN_TIMEOUT: '10s',
  // The AWS SDK (media's S3 client) warns at every start that its 2027 releases need Node 22;
  // true (docs/operations.md says so), and seven lines of stderr per media restart here.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  DATABASE_POOL_MAX: '4',
  LOG_LEVEL: 'error',
};

export interface CaptureDriverState {
  /** The next driver start emits from this k; a test sets it before `fleet.start('capture')`. */
  env: Record<string, string>;
  /** Highest k reported emitted by the running driver, -1 before any. */
  lastEmitted: number;
  lastPending: number;
  /** Captured events stored in capture's outbox (the instance's last seq), as the driver last saw it. */
  durable: number;
}

/** One blob the media host serves, and the descriptor a message carrying it has. */
export interface ChaosBlob {
  descriptor: Record<string, unknown>;
  size: number;
}

/** Media: WhatsApp's media host stood in for on loopback, and the S3 the media service stores into. */
export interface ChaosMedia {
  host: BlobServer;
  s3: S3Server;
  bucket: string;
  /** Every `MEDIA_EVERY`-th event of a steady load carries one of these, in turn. */
  blobs: ChaosBlob[];
}

/** One event in this many of a steady load carries media. */
export const MEDIA_EVERY = 5;
export const MEDIA_BUCKET = 'chaos-media';

async function startChaosMedia(): Promise<ChaosMedia> {
  const host = await startBlobServer();
  const s3 = await startS3Server();
  await s3.createBucket(MEDIA_BUCKET);
  const blobs: ChaosBlob[] = [];
  for (let i = 0; i < 4; i++) {
    const blob = await encryptBlob('image', 20_000 + i * 1_000);
    const path = `/v/t62.7118-24/chaos-${i}.enc`;
    // A slow host (300 ms a blob), so a few downloads are always in flight when media is killed.
    host.serve(path, { body: blob.encrypted, delayMs: 300 });
    blobs.push({ descriptor: { ...blob.descriptor, direct_path: path }, size: blob.plain.length });
  }
  return { host, s3, bucket: MEDIA_BUCKET, blobs };
}

export interface ChaosEnv {
  nats: NatsServer;
  nc: NatsConnection;
  database: ScratchDatabase;
  pool: Pool;
  receiver: CountingReceiver;
  media: ChaosMedia;
  fleet: ProcessFleet;
  serviceEnv: Record<string, string>;
  driver: CaptureDriverState;
  /** Two (or `n`) fresh tenants, each with one endpoint at /hooks/<tenant> on the receiver. */
  newTenants(prefix: string, n?: number): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * One chaos environment: a nats-server the suite owns (store on disk, so it can be killed and
 * started again), a scratch database (created and dropped here: terminating every backend of the
 * shared test database would break other suites running at the same time), the six services as
 * processes — capture being the driver of ./capture-driver.ts — a counting webhook receiver, and
 * for media a stand-in media host serving Baileys-encrypted blobs and an S3 server (versitygw).
 */
export async function startChaosEnv(): Promise<ChaosEnv> {
  const nats = await startNatsServer();
  const database = await createScratchDatabase(
    process.env['CHAOS_DATABASE_URL'] ?? TEST_DATABASE_URL,
    'switchyard_chaos',
  );
  const pool = createPool({ url: database.url, max: 4, applicationName: 'switchyard-chaos' });
  const receiver = await startCountingReceiver();
  const media = await startChaosMedia();
  const serviceEnv = {
    NATS_URL: nats.url,
    DATABASE_URL: database.url,
    ...CHAOS_SERVICE_ENV,
    MEDIA_DOWNLOAD_BASE_URL: media.host.url,
    // Under the root the suite's teardown removes, not the default under /tmp.
    MEDIA_WORK_DIR: join(CHAOS_SPOOL_ROOT, `media-work-${database.name}`),
    MEDIA_STORE: 's3',
    MEDIA_S3_BUCKET: media.bucket,
    MEDIA_S3_ENDPOINT: media.s3.endpoint,
    MEDIA_S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: media.s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: media.s3.credentials.secretAccessKey,
  };
  const driver: CaptureDriverState = { env: {}, lastEmitted: -1, lastPending: 0, durable: 0 };
  await switchyardCli(['migrate'], serviceEnv);
  const onLine = (service: ServiceName, line: string) => {
    const match = /^CHAOS emitted (\d+) pending (\d+)/.exec(line);
    const durable = /^CHAOS durable (\d+)/.exec(line);
    if (service === 'capture' && durable) {
      driver.durable = Math.max(driver.durable, Number(durable[1]));
    } else if (service === 'capture' && match) {
      driver.lastEmitted = Number(match[1]);
      driver.lastPending = Number(match[2]);
    } else if (
      process.env['CHAOS_VERBOSE'] === '1' ||
      /"level":(50|60)/.test(line) ||
      !line.startsWith('{')
    ) {
      process.stderr.write(`[${service}] ${line}\n`);
    }
  };
  const fleet = await startProcessFleet({
    env: serviceEnv,
    entries: { capture: 'test/chaos/support/capture-driver.ts' },
    envFor: (name) => (name === 'capture' ? driver.env : {}),
    onLine,
    // As Kubernetes would: a crash is a finding of its own, and the restart lets the check tell it from loss.
    restartOnCrash: true,
  });
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  return {
    nats,
    nc,
    database,
    pool,
    receiver,
    media,
    fleet,
    serviceEnv,
    driver,
    async newTenants(prefix, n = 2) {
      const tenants = Array.from({ length: n }, () => randomTenantId(prefix));
      await Promise.all(
        tenants.map((t) => createTenantWithEndpoint(serviceEnv, t, `${receiver.url}/hooks/${t}`)),
      );
      return tenants;
    },
    async stop() {
      await fleet.stop(5_000);
      await nc.close();
      await receiver.close();
      await media.host.stop();
      await media.s3.stop();
      await pool.end();
      await nats.stop();
      await database.drop();
    },
  };
}
