import { describe, expect, it } from 'vitest';
import type { PoolClient } from 'pg';
import { queryPrepared } from './prepared.ts';
import { forTenant } from './tenant-db.ts';
import { useTestTenants } from './test-helpers.ts';

const testTenants = useTestTenants('pa', 'pb');
const [a, b] = testTenants.tenants as [string, string];

async function preparedTexts(client: PoolClient): Promise<string[]> {
  const result = await client.query<{ statement: string }>('SELECT statement FROM pg_catalog.pg_prepared_statements ORDER BY prepare_time');
  return result.rows.map((row) => row.statement);
}

const insertEvent = `INSERT INTO :SCHEMA.events (id, instance, type, source, occurred_at, captured_at, data)
  VALUES ($1, 'i1', 'message.received', 'baileys', now(), now(), '{}') RETURNING id`;

describe('queryPrepared', () => {
  it("prepares a tenant's statement once per connection, each tenant its own, and answers as an unnamed one would", async () => {
    const ids = { [a]: ['pa-1', 'pa-2'], [b]: ['pb-1'] };
    for (const [tenant, list] of Object.entries(ids)) {
      for (const id of list) {
        const result = await forTenant(testTenants.pool(), tenant).query<{ id: string }>(insertEvent, [id], { prepared: true });
        expect(result.rows).toEqual([{ id }]);
      }
    }
    for (const [tenant, list] of Object.entries(ids)) {
      const stored = await forTenant(testTenants.pool(), tenant).query<{ id: string }>('SELECT id FROM :SCHEMA.events ORDER BY id');
      expect(stored.rows.map((row) => row.id)).toEqual(list);
    }
    // Inside a transaction it runs on the transaction's connection, and is prepared there.
    const inTx = await forTenant(testTenants.pool(), a).transaction(async (tx) => {
      await tx.query(insertEvent, ['pa-3'], { prepared: true });
      return (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM :SCHEMA.events')).rows[0]?.n;
    });
    expect(inTx).toBe(3);
  });

  it('keeps at most `capacity` statements prepared on a connection, deallocating the least recently used', async () => {
    const client = await testTenants.pool().connect();
    try {
      const text = (n: number) => `SELECT ${n}::int AS n, $1::text AS tag`;
      for (const n of [1, 2, 3]) expect((await queryPrepared<{ n: number }>(client, text(n), ['x'], 2)).rows[0]?.n).toBe(n);
      expect(await preparedTexts(client)).toEqual([text(2), text(3)]);
      // Using 2 makes 3 the oldest; 1 comes back (prepared again) in 3's place.
      await queryPrepared(client, text(2), ['x'], 2);
      expect((await queryPrepared<{ n: number }>(client, text(1), ['x'], 2)).rows[0]?.n).toBe(1);
      expect((await preparedTexts(client)).sort()).toEqual([text(1), text(2)].sort());
    } finally {
      client.release();
    }
  });

  it('forgets a statement Postgres refused to prepare, so making room later does not fail on it', async () => {
    const client = await testTenants.pool().connect();
    try {
      await expect(queryPrepared(client, 'SELECT * FROM no_such_table_here WHERE $1::int = 1', [1], 1)).rejects.toThrow(/no_such_table_here/);
      expect((await queryPrepared<{ n: number }>(client, 'SELECT $1::int AS n', [7], 1)).rows).toEqual([{ n: 7 }]);
      expect(await preparedTexts(client)).toEqual(['SELECT $1::int AS n']);
    } finally {
      client.release();
    }
  });
});
