import { connect, type NatsConnection } from 'nats';
import type pg from 'pg';
import type { RunningService } from '@switchyard/service';
import { createTestPool, startNatsServer, testLogger, testServiceEnv, type NatsServer } from '@switchyard/testing';
import { startCapture, type CaptureService } from '../../services/capture/src/app.ts';
import { loadCaptureConfig } from '../../services/capture/src/config.ts';
import { startDlqWorker } from '../../services/dlq-worker/src/app.ts';
import { loadDlqWorkerConfig } from '../../services/dlq-worker/src/config.ts';
import { startMedia } from '../../services/media/src/app.ts';
import { loadMediaConfig } from '../../services/media/src/config.ts';
import { startPersistence } from '../../services/persistence/src/app.ts';
import { loadPersistenceConfig } from '../../services/persistence/src/config.ts';
import { startRouter } from '../../services/router/src/app.ts';
import { loadRouterConfig } from '../../services/router/src/config.ts';
import { startWebhookDispatch } from '../../services/webhook-dispatch/src/app.ts';
import { loadWebhookDispatchConfig } from '../../services/webhook-dispatch/src/config.ts';

export interface Fleet {
  nats: NatsServer;
  /** A client connection for the test itself (publishing, reading streams). */
  nc: NatsConnection;
  pool: pg.Pool;
  services: Record<string, RunningService>;
  capture: CaptureService;
  /** Environment for CLI processes pointed at this fleet's NATS and Postgres. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * All six services, each started through its real `app.ts` wiring, in one test process against a
 * private nats-server (so the tenant registry and streams belong to this test file alone) and the
 * shared test database (tenants there have random ids).
 */
export async function startFleet(extraEnv: Record<string, string> = {}): Promise<Fleet> {
  const nats = await startNatsServer();
  const env = testServiceEnv(nats.url, {
    // Local receivers live on loopback; keep retries short so a test sees them.
    WEBHOOK_RETRY_DELAYS: '0s,200ms,500ms',
    WEBHOOK_ENDPOINT_CACHE_TTL: '100ms',
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    ...extraEnv,
  });
  const pool = await createTestPool();
  const services: Record<string, RunningService> = {};
  let capture: CaptureService | undefined;
  const stopAll = async () => {
    for (const service of Object.values(services).reverse()) await service.stop();
  };
  try {
    services['dlq-worker'] = await startDlqWorker(loadDlqWorkerConfig(env), { logger: testLogger('dlq-worker') });
    services['persistence'] = await startPersistence(loadPersistenceConfig(env), { logger: testLogger('persistence') });
    services['media'] = await startMedia(loadMediaConfig(env), { logger: testLogger('media') });
    services['webhook-dispatch'] = await startWebhookDispatch(loadWebhookDispatchConfig(env), { logger: testLogger('webhook-dispatch') });
    services['router'] = await startRouter(loadRouterConfig(env), { logger: testLogger('router') });
    capture = await startCapture(loadCaptureConfig(env), { logger: testLogger('capture') });
    services['capture'] = capture;
  } catch (err) {
    await stopAll();
    await nats.stop();
    await pool.end();
    throw err;
  }
  const nc = await connect({ servers: nats.url });
  return {
    nats,
    nc,
    pool,
    services,
    capture,
    env,
    async stop() {
      await nc.close();
      await stopAll();
      await nats.stop();
      await pool.end();
    },
  };
}
