import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from 'pg';
import { quoteIdent } from './identifiers.ts';
import { loadMigrations, migrateSchemaInTransaction } from './migrate.ts';
import { openTestPool } from './test-helpers.ts';
import { withTransaction } from './transaction.ts';

let pool: Pool;
beforeAll(async () => {
  pool = await openTestPool();
});
afterAll(async () => {
  await pool.end();
});

describe('tenant migrations on a schema that already holds events', () => {
  // Found on a developer database: rows copied into the default partition by the partitioning
  // migration made their months impossible to create, and retention failed on every pass.
  it('puts events stored before partitioning into their month partitions, not the default one', async () => {
    const schema = `upgrade_${randomBytes(4).toString('hex')}`;
    const q = quoteIdent(schema);
    try {
      // The schema as it was before the partitioning migration (000004), with two months of events.
      const before = (await loadMigrations('tenant')).filter((m) => m.id < 4);
      await withTransaction(pool, async (client) => {
        await client.query(`CREATE SCHEMA ${q}`);
        await client.query(`CREATE TABLE ${q}.migrations (id int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
        for (const m of before) {
          await client.query(m.sql.replaceAll(':SCHEMA', q));
          await client.query(`INSERT INTO ${q}.migrations (id, name) VALUES ($1, $2)`, [m.id, m.name]);
        }
        await client.query(
          `INSERT INTO ${q}.events (id, instance, type, seq, source, occurred_at, captured_at, data) VALUES
             ('old-1', 'phone-1', 'message.received', 1, 'tenant', '2025-12-31T23:59:59Z', now(), '{}'),
             ('old-2', 'phone-1', 'message.received', 2, 'tenant', '2026-01-15T10:00:00Z', now(), '{}')`,
        );
      });

      await withTransaction(pool, (client) => migrateSchemaInTransaction(client, 'tenant', schema));

      const placed = await pool.query<{ id: string; partition: string }>(
        `SELECT id, tableoid::regclass::text AS partition FROM ${q}.events ORDER BY id`,
      );
      expect(placed.rows).toEqual([
        { id: 'old-1', partition: `${schema}.events_p202512` },
        { id: 'old-2', partition: `${schema}.events_p202601` },
      ]);
      const ids = await pool.query<{ id: string }>(`SELECT id FROM ${q}.event_ids ORDER BY id`);
      expect(ids.rows.map((r) => r.id)).toEqual(['old-1', 'old-2']);
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS ${q} CASCADE`);
    }
  });
});
