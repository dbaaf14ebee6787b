import { describe, expect, it } from 'vitest';
import { UnscopedQueryError } from './errors.ts';
import { forTenant } from './tenant-db.ts';
import { useTestTenants } from './test-helpers.ts';

const testTenants = useTestTenants('a', 'b');
const [a, b] = testTenants.tenants as [string, string];

const insertEvent = `INSERT INTO :SCHEMA.events (id, instance, type, source, occurred_at, captured_at, data)
  VALUES ($1, 'i1', 'message.received', 'baileys', now(), now(), '{}')`;

describe('forTenant', () => {
  it('refuses a query that does not name :SCHEMA.', async () => {
    const db = forTenant(testTenants.pool(), a);
    await expect(db.query('SELECT * FROM events')).rejects.toBeInstanceOf(UnscopedQueryError);
    await expect(db.query(`SELECT * FROM "tenant_${b}".events`)).rejects.toBeInstanceOf(
      UnscopedQueryError,
    );
  });

  it("keeps tenant A's handle away from B's rows", async () => {
    await forTenant(testTenants.pool(), b).query(insertEvent, ['evt-b']);
    await forTenant(testTenants.pool(), a).query(insertEvent, ['evt-a']);
    const seenByA = await forTenant(testTenants.pool(), a).query<{ id: string }>('SELECT id FROM :SCHEMA.events');
    expect(seenByA.rows.map((r) => r.id)).toEqual(['evt-a']);
    const seenByB = await forTenant(testTenants.pool(), b).query<{ id: string }>('SELECT id FROM :SCHEMA.events');
    expect(seenByB.rows.map((r) => r.id)).toEqual(['evt-b']);
  });

  it('quotes table names and validates them', () => {
    const db = forTenant(testTenants.pool(), a);
    expect(db.schema).toBe(`"tenant_${a}"`);
    expect(db.table('events')).toBe(`"tenant_${a}"."events"`);
    expect(() => db.table('events; drop')).toThrow(/invalid table name/);
  });

  it('returns one cached handle per testTenants.pool() and tenant', () => {
    expect(forTenant(testTenants.pool(), a)).toBe(forTenant(testTenants.pool(), a));
    expect(forTenant(testTenants.pool(), a)).not.toBe(forTenant(testTenants.pool(), b));
  });

  it('commits a transaction, and rolls back and rethrows on error', async () => {
    const db = forTenant(testTenants.pool(), a);
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
