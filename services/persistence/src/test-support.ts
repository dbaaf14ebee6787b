// Shared by this service's tests only: the real service against a private NATS and the test database.
import { announceTenant } from '@switchyard/nats';
import {
  createTestPool,
  createTestTenant,
  randomName,
  startNatsServer,
  testLogger,
  testServiceEnv,
  type NatsServer,
  type TestTenant,
} from '@switchyard/testing';
import type { Pool } from '@switchyard/db';
import type { RunningService } from '@switchyard/service';
import { connect, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import { startPersistence } from './app.ts';
import { loadPersistenceConfig } from './config.ts';

export interface Harness {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  pool: Pool;
  service: RunningService;
  url: string;
  /** Provisions a schema for a random tenant and announces it to the service. */
  addTenant(prefix?: string): Promise<string>;
  /** Announces a tenant without provisioning it (as if its schema were still being created). */
  announce(tenant: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  const server: NatsServer = await startNatsServer();
  const pool = await createTestPool();
  const bucket = randomName('tenants');
  const tenants: TestTenant[] = [];
  const config = loadPersistenceConfig(
    testServiceEnv(server.url, { PERSISTENCE_RETRY_BACKOFF: '100ms', PERSISTENCE_MAX_DELIVER: '100', ...env }),
  );
  const service = await startPersistence(config, { logger: testLogger('persistence'), tenantBucket: bucket });
  const nc = await connect({ servers: server.url });
  const js = nc.jetstream();
  const announce = (tenant: string): Promise<void> => announceTenant(js, tenant, {}, { bucket });
  return {
    nc,
    js,
    jsm: await nc.jetstreamManager(),
    pool,
    service,
    url: service.address.url,
    announce,
    async addTenant(prefix = 'p') {
      const created = await createTestTenant(pool, prefix);
      tenants.push(created);
      await announce(created.tenant);
      return created.tenant;
    },
    async stop() {
      await service.stop();
      await nc.drain();
      for (const t of tenants) await t.cleanup();
      await pool.end();
      await server.stop();
    },
  };
}

let counter = 0;

/** A valid message.received envelope for `tenant`; fields can be overridden. */
export function messageReceived(tenant: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    id: `evt-${randomName('e')}`,
    tenant,
    instance: 'phone-1',
    type: 'message.received',
    schema_version: 1,
    occurred_at: new Date(Date.UTC(2026, 0, 1, 10, 0, counter)).toISOString(),
    captured_at: new Date(Date.UTC(2026, 0, 1, 10, 0, counter, 100)).toISOString(),
    seq: counter,
    source: 'baileys',
    data: {
      message_id: `M${counter}`,
      chat_jid: '5511999999999@s.whatsapp.net',
      chat_lid: '123456789@lid',
      from_me: false,
      timestamp: new Date(Date.UTC(2026, 0, 1, 10, 0, counter)).toISOString(),
      message_type: 'conversation',
      text: `hello ${counter}`,
    },
    ...overrides,
  };
}

export const encodeJson = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));
