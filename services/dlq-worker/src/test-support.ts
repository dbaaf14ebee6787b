// Shared by this service's tests only: the real worker against a private NATS and the test database.
import { buildDlqRecord, announceTenant, type BuildDlqRecordInput } from '@switchyard/nats';
import type { Pool } from '@switchyard/db';
import type { DlqRecord } from '@switchyard/schema';
import type { RunningService } from '@switchyard/service';
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
import { connect, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import { startDlqWorker } from './app.ts';
import { loadDlqWorkerConfig } from './config.ts';

export interface Harness {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  pool: Pool;
  service: RunningService;
  url: string;
  /** Provisions a schema for a random tenant and announces it to the worker. */
  addTenant(prefix?: string): Promise<string>;
  /** Announces a tenant without a schema (never provisioned, or deleted). */
  announce(tenant: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const server: NatsServer = await startNatsServer();
  const pool = await createTestPool();
  const bucket = randomName('tenants');
  const tenants: TestTenant[] = [];
  const config = loadDlqWorkerConfig(testServiceEnv(server.url, { DLQ_RETRY_BACKOFF: '100ms' }));
  const service = await startDlqWorker(config, { logger: testLogger('dlq-worker'), tenantBucket: bucket });
  const nc = await connect({ servers: server.url });
  const js = nc.jetstream();
  const announce = (tenant: string): Promise<void> => announceTenant(js, tenant, {}, { bucket });
  const claimed: string[] = [];
  return {
    nc,
    js,
    jsm: await nc.jetstreamManager(),
    pool,
    service,
    url: service.address.url,
    announce: async (tenant) => {
      claimed.push(tenant);
      await announce(tenant);
    },
    async addTenant(prefix = 'd') {
      const created = await createTestTenant(pool, prefix);
      tenants.push(created);
      claimed.push(created.tenant);
      await announce(created.tenant);
      return created.tenant;
    },
    async stop() {
      await service.stop();
      await nc.drain();
      // System rows are shared by every test; remove only those naming this file's tenants.
      await pool.query('DELETE FROM switchyard.exhausted_events WHERE claimed_tenant = ANY($1)', [claimed]);
      for (const t of tenants) await t.cleanup();
      await pool.end();
      await server.stop();
    },
  };
}

let seq = 0;

/** A DlqRecord as the consume loop builds it, for a message of `tenant` that failed in persistence. */
export function dlqRecord(tenant: string, payload: Uint8Array, overrides: Partial<BuildDlqRecordInput> = {}): DlqRecord {
  seq += 1;
  return buildDlqRecord({
    tenant,
    service: 'persistence',
    sourceStream: 'EVENTS',
    sourceSubject: `v1.events.${tenant}.phone-1.message.received`,
    sourceSeq: 1000 + seq,
    consumer: `persistence_${tenant}`,
    eventId: `evt-${seq}`,
    reason: 'MAX_DELIVERIES',
    error: 'postgres unavailable',
    deliveries: 5,
    attempts: [
      { at: '2026-01-01T10:00:00.000Z', service: 'persistence', delivery: 4, error: 'ECONNREFUSED' },
      { at: '2026-01-01T10:01:00.000Z', service: 'persistence', delivery: 5, error: 'postgres unavailable' },
    ],
    headers: { 'Nats-Msg-Id': [`evt-${seq}`], 'Content-Type': ['application/json'] },
    payload,
    ...overrides,
  });
}

/** Bytes no text decoder would accept unchanged, so a byte-for-byte comparison means something. */
export function binaryPayload(): Uint8Array {
  return new Uint8Array([0x7b, 0x00, 0xff, 0xfe, 0x22, 0x0a, seq & 0xff, 0x7d]);
}

export const encodeText = (text: string): Uint8Array => new TextEncoder().encode(text);
