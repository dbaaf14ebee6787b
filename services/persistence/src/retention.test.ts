import { forTenant, setRetentionDays, type Pool } from '@switchyard/db';
import { createTestPool, createTestTenant, testLogger, type TestTenant } from '@switchyard/testing';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { persistenceMetrics } from './metrics.ts';
import { listPartitions } from './partitions.ts';
import { applyRetention } from './retention.ts';
import { storeBatch } from './store-batch.ts';
import { envelope } from './test-support.ts';

let pool: Pool;
let t: TestTenant;

beforeAll(async () => {
  pool = await createTestPool();
  t = await createTestTenant(pool, 'ret');
});
afterAll(async () => {
  await t.cleanup();
  await pool.end();
});

describe('retention', () => {
  it('drops exactly the partitions that ended before now - retention_days, and their ids', async () => {
    const tenant = t.tenant;
    const db = forTenant(pool, tenant);
    const months = ['2025-10-15', '2025-11-15', '2025-12-15', '2026-01-15', '2026-02-15'];
    const events = months.map((day) =>
      envelope(tenant, 'message.received', {
        message_id: `RET-${day}`, chat_jid: '5511900000009@s.whatsapp.net', from_me: false, timestamp: `${day}T12:00:00Z`, message_type: 'conversation',
      }, { occurred_at: `${day}T12:00:00Z` }),
    );
    await storeBatch(pool, tenant, events);
    await setRetentionDays(pool, tenant, 45);
    const registry = new Registry();
    const metrics = persistenceMetrics(registry);
    // now = 2026-02-20, 45 days: the cutoff is 2026-01-06. October, November and December ended
    // before it; January ends after it (2026-02-01), so it stays whole although half expired.
    const now = new Date('2026-02-20T00:00:00Z');
    const result = await applyRetention({ pool, logger: testLogger('persistence'), metrics, partitionsAhead: 1 }, tenant, 45, now);
    expect(result.dropped.sort()).toEqual(['events_p202510', 'events_p202511', 'events_p202512']);
    expect(result.created).toEqual(['events_p202603']);

    const left = (await listPartitions(db)).map((p) => p.name);
    expect(left).toEqual(['events_p202601', 'events_p202602', 'events_p202603']);
    const ids = await db.query<{ id: string }>(`SELECT id FROM :SCHEMA.event_ids ORDER BY occurred_at`);
    expect(ids.rows.map((r) => r.id)).toEqual([events[3]!.id, events[4]!.id]);
    const stored = await db.query<{ id: string }>(`SELECT id FROM :SCHEMA.events ORDER BY occurred_at`);
    expect(stored.rows.map((r) => r.id)).toEqual([events[3]!.id, events[4]!.id]);
    const dropped = await registry.getSingleMetricAsString('events_retention_partitions_dropped_total');
    expect(dropped).toContain(`events_retention_partitions_dropped_total{tenant="${tenant}"} 3`);

    // A second pass finds nothing more to drop; retention 0 keeps everything.
    expect((await applyRetention({ pool, logger: testLogger('persistence'), metrics, partitionsAhead: 1 }, tenant, 45, now)).dropped).toEqual([]);
    expect((await applyRetention({ pool, logger: testLogger('persistence'), metrics, partitionsAhead: 1 }, tenant, 0, new Date('2030-01-01T00:00:00Z'))).dropped).toEqual([]);
  });
});
