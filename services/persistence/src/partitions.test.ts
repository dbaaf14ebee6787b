import { forTenant, type Pool } from '@switchyard/db';
import { createTestPool, createTestTenant, type TestTenant } from '@switchyard/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensurePartitions, KnownPartitions, partitionFor, partitionTable } from './partitions.ts';
import { storeBatch } from './store-batch.ts';
import { envelope } from './test-support.ts';

// Old-dated events (a history sync reaching back) for a month whose partition retention dropped,
// or whose rows sit in events_default: they must land in their month's partition, never fail.
let pool: Pool;
let t: TestTenant;

beforeAll(async () => {
  pool = await createTestPool();
});
afterEach(async () => {
  await t.cleanup();
});
afterAll(async () => {
  await pool.end();
});

const month = partitionFor(new Date(Date.UTC(2024, 4, 1)));
const db = () => forTenant(pool, t.tenant);

function oldMessage(i: number) {
  const at = new Date(Date.UTC(2024, 4, 10, 12, 0, i)).toISOString();
  return envelope(t.tenant, 'message.received', { message_id: `OLD${i}`, chat_jid: '5511977776666@s.whatsapp.net', from_me: false, timestamp: at, message_type: 'conversation', text: `old ${i}` }, { occurred_at: at });
}

async function rowsIn(table: string): Promise<number> {
  const result = await db().query<{ n: string }>(`SELECT count(*) AS n FROM :SCHEMA.${table}`);
  return Number(result.rows[0]?.n);
}

describe('month partitions under retention', () => {
  it('recreates a month retention dropped between two batches of a consumer', async () => {
    t = await createTestTenant(pool, 'pt');
    await storeBatch(pool, t.tenant, [oldMessage(1)]);
    expect(await rowsIn(`"${month.name}"`)).toBe(1);
    // The retention pass of any replica drops the month (it ended long ago).
    await db().query(`DROP TABLE ${partitionTable(month)}`);
    await storeBatch(pool, t.tenant, [oldMessage(2)]);
    expect(await rowsIn('events_default')).toBe(0);
    expect(await rowsIn(`"${month.name}"`)).toBe(1);
  });

  it('moves rows that reached events_default into their month when the month is created', async () => {
    t = await createTestTenant(pool, 'pt');
    await db().query(`DROP TABLE IF EXISTS ${partitionTable(month)}`);
    // As if stored while the month had no partition: the row sits in the default partition.
    await db().query(
      `INSERT INTO :SCHEMA.events (id, instance, type, seq, source, occurred_at, captured_at, data)
       VALUES ('stray-1', 'phone-1', 'message.received', 1, 'baileys', '2024-05-02T00:00:00Z', '2024-05-02T00:00:00Z', '{}')`,
    );
    expect(await rowsIn('events_default')).toBe(1);
    const late = oldMessage(3);
    await storeBatch(pool, t.tenant, [late]);
    expect(await rowsIn('events_default')).toBe(0);
    const ids = await db().query<{ id: string }>(`SELECT id FROM :SCHEMA."${month.name}"`);
    expect(ids.rows.map((r) => r.id).sort()).toEqual([late.id, 'stray-1'].sort());
  });
});

describe('months known to exist', () => {
  const running = partitionFor(new Date(Date.UTC(2099, 0, 15)));
  const ended = month;

  async function exists(name: string): Promise<boolean> {
    const result = await db().query<{ reg: string | null }>(`SELECT to_regclass($1) AS reg -- :SCHEMA.`, [`${db().schema}."${name}"`]);
    return result.rows[0]?.reg !== null;
  }

  it('skips the check of a month it saw, until the TTL passes; a month that ended is always checked', async () => {
    t = await createTestTenant(pool, 'pt');
    let now = Date.UTC(2099, 0, 15);
    const known = new KnownPartitions(60_000, () => now);
    expect(await ensurePartitions(db(), [running, ended], known)).toEqual(expect.arrayContaining([running.name]));
    expect(await exists(running.name)).toBe(true);
    await db().query(`DROP TABLE ${partitionTable(running)}`);
    await db().query(`DROP TABLE IF EXISTS ${partitionTable(ended)}`);
    // The running month is trusted (no catalogue query, so nothing is made again); the ended one is checked.
    expect(await ensurePartitions(db(), [running, ended], known)).toEqual([ended.name]);
    expect(await exists(running.name)).toBe(false);
    now += 60_001;
    expect(await ensurePartitions(db(), [running], known)).toEqual([running.name]);
    expect(await exists(running.name)).toBe(true);
  });

  it('trusts a month no longer than until it ends', () => {
    let now = Date.UTC(2099, 0, 31, 23, 59);
    const known = new KnownPartitions(3_600_000, () => now);
    known.remember('acme', [running]);
    expect(known.unsure('acme', [running])).toEqual([]);
    expect(known.unsure('other', [running])).toEqual([running]);
    now = running.to.getTime();
    expect(known.unsure('acme', [running])).toEqual([running]);
    known.remember('acme', [running]);
    expect(known.unsure('acme', [running])).toEqual([running]);
  });
});
