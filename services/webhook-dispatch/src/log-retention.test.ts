import { forTenant, type Pool } from '@switchyard/db';
import { createMetricsRegistry } from '@switchyard/runtime';
import { createTestPool, createTestTenant, testLogger, type TestTenant } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWebhookDispatchConfig } from './config.ts';
import { pruneDeliveryLog, runLogRetentionPass } from './log-retention.ts';
import { webhookMetrics } from './metrics.ts';

let pool: Pool;
let a: TestTenant;
let b: TestTenant;

beforeAll(async () => {
  pool = await createTestPool();
  a = await createTestTenant(pool, 'lr');
  b = await createTestTenant(pool, 'lr');
});
afterAll(async () => {
  await a.cleanup();
  await b.cleanup();
  await pool.end();
});

const DAY = 86_400_000;
const NOW = new Date('2026-06-30T12:00:00Z');

/** A delivery last touched `ageDays` before NOW, with `attempts` attempt rows. */
async function delivery(tenant: string, endpoint: string, event: string, status: string, ageDays: number, attempts: number): Promise<void> {
  const at = new Date(NOW.getTime() - ageDays * DAY);
  const db = forTenant(pool, tenant);
  await db.query(
    `INSERT INTO :SCHEMA.webhook_deliveries (endpoint_id, event_id, event_type, instance, seq, stream_seq, status, attempts, created_at, updated_at)
     VALUES ($1, $2, 'message.received', 'phone-1', 1, 1, $3, $4, $5, $5)`,
    [endpoint, event, status, attempts, at],
  );
  for (let n = 1; n <= attempts; n++) {
    await db.query(
      `INSERT INTO :SCHEMA.webhook_delivery_attempts (endpoint_id, event_id, stream_seq, attempt, attempted_at, outcome, status, latency_ms)
       VALUES ($1, $2, 1, $3, $4, 'http_error', 500, 12)`,
      [endpoint, event, n, at],
    );
  }
}

async function left(tenant: string): Promise<{ deliveries: string[]; attempts: string[] }> {
  const db = forTenant(pool, tenant);
  const d = await db.query<{ k: string }>(`SELECT endpoint_id || '/' || event_id AS k FROM :SCHEMA.webhook_deliveries ORDER BY 1`);
  const at = await db.query<{ k: string }>(`SELECT endpoint_id || '/' || event_id || '#' || attempt AS k FROM :SCHEMA.webhook_delivery_attempts ORDER BY 1`);
  return { deliveries: d.rows.map((r) => r.k), attempts: at.rows.map((r) => r.k) };
}

describe('delivery-log retention', () => {
  it('deletes the deliveries that ended before the cut-off with their attempts, slice by slice, and keeps the rest', async () => {
    // ep-1: five old delivered (more than one slice of 2), one old exhausted, one recent delivered,
    // one old still retrying; ep-2 (an endpoint deleted long ago): one old delivered.
    for (let i = 1; i <= 5; i++) await delivery(a.tenant, 'ep-1', `old-${i}`, 'delivered', 40, 1);
    await delivery(a.tenant, 'ep-1', 'old-exhausted', 'exhausted', 35, 3);
    await delivery(a.tenant, 'ep-1', 'recent', 'delivered', 2, 1);
    await delivery(a.tenant, 'ep-1', 'old-retrying', 'retrying', 40, 2);
    await delivery(a.tenant, 'ep-2', 'gone-endpoint', 'delivered', 90, 2);

    const pruned = await pruneDeliveryLog(forTenant(pool, a.tenant), new Date(NOW.getTime() - 30 * DAY), 2);
    expect(pruned).toEqual({ deliveries: 7, attempts: 10 });
    expect(await left(a.tenant)).toEqual({
      deliveries: ['ep-1/old-retrying', 'ep-1/recent'],
      attempts: ['ep-1/old-retrying#1', 'ep-1/old-retrying#2', 'ep-1/recent#1'],
    });
    // Nothing left to prune: a second pass deletes nothing.
    expect(await pruneDeliveryLog(forTenant(pool, a.tenant), new Date(NOW.getTime() - 30 * DAY), 2)).toEqual({ deliveries: 0, attempts: 0 });
  });

  it('runs over the tenants this replica owns, counts what it deleted, and leaves the others', async () => {
    await delivery(b.tenant, 'ep-b', 'old', 'exhausted', 40, 2);
    await delivery(a.tenant, 'ep-1', 'old-again', 'delivered', 40, 1);
    const registry = createMetricsRegistry('webhook-dispatch');
    const metrics = webhookMetrics(registry);
    // Another replica owns tenant a's partition: only b is pruned.
    const owned = new Set([b.tenant]);
    const deps = { pool, logger: testLogger('webhook-dispatch'), metrics, retentionMs: 30 * DAY, owns: (tenant: string) => owned.has(tenant) };

    const first = await runLogRetentionPass(deps, NOW);
    expect(first.get(b.tenant)).toEqual({ deliveries: 1, attempts: 2 });
    expect(first.has(a.tenant)).toBe(false);
    expect((await left(a.tenant)).deliveries).toContain('ep-1/old-again');
    // The partition moves here: the next pass prunes a too.
    owned.add(a.tenant);
    const second = await runLogRetentionPass(deps, NOW);
    expect(second.get(a.tenant)).toEqual({ deliveries: 1, attempts: 1 });
    expect((await left(a.tenant)).deliveries).toEqual(['ep-1/old-retrying', 'ep-1/recent']);
    const text = await registry.metrics();
    const pruned = (tenant: string, table: string, n: number) => new RegExp(`webhook_log_rows_pruned_total\\{[^}]*tenant="${tenant}",table="${table}"[^}]*\\} ${n}\\n`);
    expect(text).toMatch(pruned(b.tenant, 'deliveries', 1));
    expect(text).toMatch(pruned(b.tenant, 'attempts', 2));
    expect(text).toMatch(pruned(a.tenant, 'attempts', 1));
    expect(text).toMatch(/webhook_log_retention_last_run_timestamp_seconds(\{[^}]*\})? \d+/);
  });

  it('reports its progress every 20 full slices', async () => {
    const c = await createTestTenant(pool, 'lr');
    try {
      await forTenant(pool, c.tenant).query(
        `INSERT INTO :SCHEMA.webhook_deliveries (endpoint_id, event_id, event_type, instance, seq, stream_seq, status, updated_at)
         SELECT 'ep-c', 'old-' || n, 'message.received', 'phone-1', n, n, 'delivered', $1 FROM generate_series(1, 45) AS n`,
        [new Date(NOW.getTime() - 40 * DAY)],
      );
      const progress: number[] = [];
      const pruned = await pruneDeliveryLog(forTenant(pool, c.tenant), new Date(NOW.getTime() - 30 * DAY), 1, (sofar) => progress.push(sofar.deliveries));
      expect(pruned).toEqual({ deliveries: 45, attempts: 0 });
      expect(progress).toEqual([20, 40]);
    } finally {
      await c.cleanup();
    }
  });

  it('refuses a retention shorter than an hour, and takes 0s as keep forever', () => {
    const env = { NATS_URL: 'nats://127.0.0.1:4222', DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/x' };
    expect(() => loadWebhookDispatchConfig({ ...env, WEBHOOK_LOG_RETENTION: '10m' })).toThrow(/WEBHOOK_LOG_RETENTION: at least 1h/);
    expect(loadWebhookDispatchConfig({ ...env, WEBHOOK_LOG_RETENTION: '0s' }).WEBHOOK_LOG_RETENTION).toBe(0);
    expect(loadWebhookDispatchConfig(env).WEBHOOK_LOG_RETENTION).toBe(30 * DAY);
  });
});
