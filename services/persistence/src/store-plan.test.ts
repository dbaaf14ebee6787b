import { forTenant, type Pool } from '@switchyard/db';
import { createTestPool, createTestTenant, type TestTenant } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePartitions } from './partitions.ts';
import { planBatch } from './store-batch.ts';
import { envelope } from './test-support.ts';

// The store statement runs prepared, and a prepared statement's generic plan is made once per
// connection, often while a tenant's tables are still nearly empty, and then kept (a plan is only
// remade when ANALYZE changes the statistics, which autovacuum may be late to do, or never does
// when it is off). A plan that reads a whole state table is cheap then and grows with the table:
// in the e2e bench the onboarding check's hash anti join over `messages` went from 0.3 ms to 3 ms
// within a minute, on every batch of that tenant. So no plan of it may read a whole table.
let pool: Pool;
let t: TestTenant;

beforeAll(async () => {
  pool = await createTestPool();
  t = await createTestTenant(pool, 'plan');
});
afterAll(async () => {
  await t.cleanup();
  await pool.end();
});

describe('the store statement', () => {
  it('has a generic plan that reads no state table whole, even one made while the tables were empty', async () => {
    // A message from someone with no contact row: the batch has the onboarding check.
    const event = envelope(t.tenant, 'message.received', {
      message_id: 'PLAN1', chat_jid: '5511988887777@s.whatsapp.net', from_me: false,
      timestamp: '2026-01-01T10:00:00.000Z', message_type: 'conversation', text: 'hello',
    }, { instance: 'phone-9' });
    const plan = planBatch([event]);
    expect(plan.after).toEqual([]);
    expect(plan.storeAlone.text).toContain(':SCHEMA.onboarding');
    await ensurePartitions(forTenant(pool, t.tenant), plan.months);
    const schema = forTenant(pool, t.tenant).schema;
    const client = await pool.connect();
    try {
      await client.query('SET plan_cache_mode = force_generic_plan');
      const text = plan.storeAlone.text.replaceAll(':SCHEMA.', `${schema}.`);
      // Prepared (and run once: it stores the event) by the protocol, as queryPrepared does.
      const stored = await client.query({ name: 'store_plan_probe', text, values: plan.storeAlone.params });
      expect(stored.rows.map((r: { id: string }) => r.id)).toEqual([event.id]);
      // EXPLAIN takes no bind parameters: the same values, as literals.
      const args = plan.storeAlone.params.map((p) => {
        if (typeof p === 'number') return String(p);
        if (typeof p !== 'string') throw new Error(`a store parameter that is neither text nor a number: ${typeof p}`);
        return client.escapeLiteral(p);
      });
      const explained = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE store_plan_probe(${args.join(', ')})`);
      const lines = explained.rows.map((r) => r['QUERY PLAN']);
      expect(lines.join('\n')).toContain('onboarding');
      const wholeTableReads = lines.filter((l) => /Seq Scan on (messages|contacts|chats|event_ids)\b/.test(l));
      expect(wholeTableReads, lines.join('\n')).toEqual([]);
    } finally {
      await client.query('DEALLOCATE ALL');
      await client.query('RESET plan_cache_mode');
      client.release();
    }
  });
});
