import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from 'pg';
import { UnscopedQueryError } from './errors.ts';
import { forTenant } from './tenant-db.ts';
import { deleteTenant, provisionTenant } from './tenants.ts';
import { openTestPool, randomTenant } from './test-helpers.ts';

let pool: Pool;
const a = randomTenant('a');
const b = randomTenant('b');
beforeAll(async () => {
  pool = await openTestPool();
  await Promise.all([provisionTenant(pool, a), provisionTenant(pool, b)]);
});
afterAll(async () => {
  await deleteTenant(pool, a);
  await deleteTenant(pool, b);
  await pool.end();
});

const insertEvent = `INSERT INTO :SCHEMA.events (id, instance, type, source, occurred_at, captured_at, data)
  VALUES ($1, 'i1', 'message.received', 'baileys', now(), now(), '{}')`;

describe('forTenant', () => {
  it('refuses a query that does not name :SCHEMA.', async () => {
    const db = forTenant(pool, a);
    await expect(db.query('SELECT * FROM events')).rejects.toBeInstanceOf(UnscopedQueryError);
    await expect(db.query(`SELECT * FROM "tenant_${b}".events`)).rejects.toBeInstanceOf(
      UnscopedQueryError,
    );
  });

  it("keeps tenant A's handle away from B's rows", async () => {
    await forTenant(pool, b).query(insertEvent, ['evt-b']);
    await forTenant(pool, a).query(insertEvent, ['evt-a']);
    const seenByA = await forTenant(pool, a).query<{ id: string }>('SELECT id FROM :SCHEMA.events');
    expect(seenByA.rows.map((r) => r.id)).toEqual(['evt-a']);
    const seenByB = await forTenant(pool, b).query<{ id: string }>('SELECT id FROM :SCHEMA.events');
    expect(seenByB.rows.map((r) => r.id)).toEqual(['evt-b']);
  });

  it('quotes table names and validates them', () => {
    const db = forTenant(pool, a);
    expect(db.schema).toBe(`"tenant_${a}"`);
    expect(db.table('events')).toBe(`"tenant_${a}"."events"`);
    expect(() => db.table('events; drop')).toThrow(/invalid table name/);
  });

  it('returns one cached handle per pool and tenant', () => {
    expect(forTenant(pool, a)).toBe(forTenant(pool, a));
    expect(forTenant(pool, a)).not.toBe(forTenant(pool, b));
  });

  it('commits a transaction, and rolls back and rethrows on error', async () => {
    const db = forTenant(pool, a);
    await db.transaction(async (tx) => {
      await tx.query(insertEvent, ['tx-ok']);
    });
    const boom = new Error('boom');
    await expect(
      db.transaction(async (tx) => {
        await tx.query(insertEvent, ['tx-rolled-back']);
        throw boom;
      }),
    ).rejects.toBe(boom);
    const ids = await db.query<{ id: string }>(
      `SELECT id FROM :SCHEMA.events WHERE id LIKE 'tx-%' ORDER BY id`,
    );
    expect(ids.rows.map((r) => r.id)).toEqual(['tx-ok']);
  });
});
