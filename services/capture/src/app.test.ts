import { makeEventBuffer } from '@whiskeysockets/baileys';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STREAMS, parseEnvelope } from '@switchyard/schema';
import {
  createTestPool,
  createTestTenant,
  startNatsServer,
  testServiceEnv,
  type NatsServer,
  type TestTenant,
} from '@switchyard/testing';
import type { Pool } from '@switchyard/db';
import { startCapture } from './app.ts';
import { loadCaptureConfig } from './config.ts';
import { fixture, readStream, silentLogger } from './test-support.ts';

describe('startCapture', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let pool: Pool;
  let tenant: TestTenant;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    pool = await createTestPool();
    tenant = await createTestTenant(pool);
  });
  afterAll(async () => {
    await tenant.cleanup();
    await pool.end();
    await nc.drain();
    await server.stop();
  });

  it('starts with no sessions, captures an attached session, serves metrics and drains on stop', async () => {
    const config = loadCaptureConfig(testServiceEnv(server.url, { CAPTURE_RETRY_INITIAL: '50ms' }));
    const capture = await startCapture(config, { logger: silentLogger });
    try {
      const ev = makeEventBuffer(silentLogger);
      capture.attach({ ev, tenant: tenant.tenant, instance: 'desk' });
      ev.emit('messages.upsert', fixture('text-received-lid').upsert);
      ev.emit('messages.upsert', fixture('image-received').upsert);
      // Its statements run with generic plans (the numbering statement was planned on every call).
      const mode = await capture.context.pool.query<{ mode: string }>(`SELECT current_setting('plan_cache_mode') AS mode`);
      expect(mode.rows[0]?.mode).toBe('force_generic_plan');
    } finally {
      // Stop drains the queue before closing NATS: both events must be on INGEST afterwards.
      await capture.stop();
    }
    const jsm = await nc.jetstreamManager();
    const stored = (await readStream(jsm, STREAMS.ingest)).map((m) => parseEnvelope(m.data));
    expect(stored.map((p) => p.ok && p.event.seq)).toEqual([1, 2]);
  });

  it('exposes the capture metrics', async () => {
    const config = loadCaptureConfig(testServiceEnv(server.url));
    const capture = await startCapture(config, { logger: silentLogger });
    try {
      const ev = makeEventBuffer(silentLogger);
      const adapter = capture.attach({ ev, tenant: tenant.tenant, instance: 'desk-2' });
      ev.emit('messages.upsert', fixture('append-history').upsert);
      await adapter.idle();
      const text = await (await fetch(`${capture.address.url}/metrics`)).text();
      expect(text).toMatch(
        new RegExp(
          `events_captured_total\\{[^}]*tenant="${tenant.tenant}",instance="desk-2",type="message.received"[^}]*\\} 1`,
        ),
      );
      expect(text).toContain('capture_pending_events');
      expect(text).toContain('capture_publish_failures_total');
    } finally {
      await capture.stop();
    }
  });

  it('refuses a retry backoff whose start exceeds its ceiling', () => {
    expect(() =>
      loadCaptureConfig(
        testServiceEnv(server.url, { CAPTURE_RETRY_INITIAL: '10s', CAPTURE_RETRY_MAX: '1s' }),
      ),
    ).toThrow(/CAPTURE_RETRY_INITIAL: must not exceed CAPTURE_RETRY_MAX/);
  });
});
