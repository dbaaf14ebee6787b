import { randomBytes } from 'node:crypto';
import { createPool, deleteTenant, finishMediaPurge, forgetMediaPurges, forTenant, provisionTenant, type Pool } from '@switchyard/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCliConfig } from '../config.ts';
import { CliContext } from '../context.ts';
import { runCliJson } from '../test-support.ts';
import { registerMediaCommands } from './media.ts';

const DATABASE_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/switchyard_test';
const tenant = `cli${randomBytes(5).toString('hex')}`;
let pool: Pool;
let context: CliContext;

beforeAll(async () => {
  context = new CliContext(loadCliConfig({ DATABASE_URL }));
  pool = createPool({ url: DATABASE_URL, max: 2, applicationName: 'cli-media-test' });
  await context.db();
  await provisionTenant(pool, tenant);
  const insert = (eventId: string, status: string, extra: string, at: string) =>
    forTenant(pool, tenant).query(
      `INSERT INTO :SCHEMA.media_jobs (event_id, message_id, instance, kind, descriptor, status, updated_at, occurred_at ${extra ? `, ${extra.split('=')[0]}` : ''})
       VALUES ($1, 'M-' || $1, 'phone-1', 'image', '{"kind":"image","mimetype":"image/jpeg"}', $2, $3, $3 ${extra ? `, ${extra.split('=')[1]}` : ''})`,
      [eventId, status, at],
    );
  await insert('ev-stored', 'stored', "storage_url='s3://media/x'", '2026-11-25T01:00:00Z');
  await insert('ev-failed', 'failed', "last_error='MEDIA_UNAVAILABLE: GET answered 410'", '2026-11-25T02:00:00Z');
  await insert('ev-pending', 'pending', '', '2026-11-25T00:30:00Z');
});
afterAll(async () => {
  await context.close();
  await deleteTenant(pool, tenant);
  await forgetMediaPurges(pool, tenant);
  await pool.end();
});

const run = (...args: string[]) => runCliJson(() => context, [registerMediaCommands], ['media', ...args]);

describe('switchyard media', () => {
  it('lists jobs most recently changed first, filtered by status', async () => {
    const all = (await run('list', tenant)) as { eventId: string; status: string }[];
    expect(all.map((j) => [j.eventId, j.status])).toEqual([['ev-failed', 'failed'], ['ev-stored', 'stored'], ['ev-pending', 'pending']]);
    const failed = (await run('list', tenant, '--status', 'failed')) as { eventId: string; lastError: string }[];
    expect(failed).toEqual([expect.objectContaining({ eventId: 'ev-failed', lastError: 'MEDIA_UNAVAILABLE: GET answered 410', mimetype: 'image/jpeg' })]);
  });

  it('shows one job, and says clearly when there is none or the input is bad', async () => {
    expect(await run('show', tenant, 'ev-stored')).toMatchObject({ eventId: 'ev-stored', status: 'stored', storageUrl: 's3://media/x', messageId: 'M-ev-stored' });
    await expect(run('show', tenant, 'ev-nope')).rejects.toThrow(/no media job for event ev-nope/);
    await expect(run('list', tenant, '--status', 'done')).rejects.toThrow(/--status must be one of pending, stored, failed/);
    await expect(run('list', 'Not A Tenant')).rejects.toThrow(/tenant id/);
  });

  it('lists deleted tenants whose media is being removed, pending and then purged', async () => {
    const gone = `cli${randomBytes(5).toString('hex')}`;
    await provisionTenant(pool, gone);
    await deleteTenant(pool, gone);
    try {
      type Row = { id: number; tenant: string; state: string; objects: number | null };
      const mine = async () => ((await run('purges', '--limit', '1000')) as Row[]).filter((p) => p.tenant === gone);
      const [pending] = await mine();
      expect(pending).toMatchObject({ tenant: gone, state: 'pending', objects: null, attempts: 0 });
      await finishMediaPurge(pool, pending!.id, 7);
      expect(await mine()).toEqual([expect.objectContaining({ tenant: gone, state: 'purged', objects: 7, attempts: 1 })]);
      await expect(run('purges', '--limit', '0')).rejects.toThrow(/--limit/);
    } finally {
      await forgetMediaPurges(pool, gone);
    }
  });
});
