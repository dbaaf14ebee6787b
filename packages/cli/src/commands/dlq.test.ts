import { randomBytes } from 'node:crypto';
import { createPool, deleteTenant, forgetMediaPurges, getExhausted, provisionTenant, recordExhausted, type Pool } from '@switchyard/db';
import { buildDlqRecord } from '@switchyard/nats';
import type { Msg } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// By path: the CLI has no dependency on @switchyard/testing, and this fixture needs only node.
import { startNatsServer, type NatsServer } from '../../../testing/src/nats-server.ts';
import { loadCliConfig } from '../config.ts';
import { CliContext } from '../context.ts';
import { runCliJson } from '../test-support.ts';
import { registerDlqCommands } from './dlq.ts';

const DATABASE_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/switchyard_test';
const tenant = `cli${randomBytes(5).toString('hex')}`;
let server: NatsServer;
let pool: Pool;
let context: CliContext;

beforeAll(async () => {
  server = await startNatsServer();
  context = new CliContext(loadCliConfig({ NATS_URL: server.url, DATABASE_URL }));
  await context.db(); // creates the database and control schema when missing
  pool = createPool({ url: DATABASE_URL, max: 2, applicationName: 'cli-dlq-test' });
  await provisionTenant(pool, tenant);
});
afterAll(async () => {
  await context.close();
  await deleteTenant(pool, tenant);
  await forgetMediaPurges(pool, tenant);
  await pool.end();
  await server.stop();
});

/** Runs `switchyard --json dlq …` and returns what it printed, parsed. */
const run = (...args: string[]) => runCliJson(() => context, [registerDlqCommands], ['dlq', ...args]);

async function seed(seq: number, payload: Uint8Array): Promise<string> {
  await recordExhausted(pool, tenant, buildDlqRecord({
    tenant,
    service: 'persistence',
    sourceStream: 'EVENTS',
    sourceSubject: `v1.events.${tenant}.phone-1.message.received`,
    sourceSeq: seq,
    consumer: `persistence_${tenant}`,
    reason: 'MAX_DELIVERIES',
    error: 'boom',
    deliveries: 5,
    headers: { 'Nats-Msg-Id': [`evt-${seq}`] },
    payload,
  }));
  const rows = (await run('list', tenant, '--status', 'open')) as { id: string; sourceSeq: number }[];
  const row = rows.find((r) => r.sourceSeq === seq);
  if (!row) throw new Error('seeded row not listed');
  return row.id;
}

describe('switchyard dlq', () => {
  it('requeues: the exact payload goes back to its source subject and the row is marked', async () => {
    const payload = new Uint8Array([1, 2, 3, 0xff]);
    const id = await seed(1, payload);
    const nc = await context.nc();
    const received = new Promise<Msg>((resolve) => {
      nc.subscribe(`v1.events.${tenant}.phone-1.message.received`, { max: 1, callback: (_err, msg) => resolve(msg) });
    });
    await nc.flush();
    expect(await run('requeue', tenant, id)).toMatchObject({ id, status: 'requeued', stream: 'EVENTS' });
    expect(Buffer.from((await received).data).equals(Buffer.from(payload))).toBe(true);
    expect((await getExhausted(pool, tenant, id))?.status).toBe('requeued');
    await expect(run('requeue', tenant, id)).rejects.toThrow(/is requeued; only open rows/);
  });

  it('shows and discards', async () => {
    const id = await seed(2, new TextEncoder().encode('{"a":1}'));
    expect(await run('show', tenant, id)).toMatchObject({ id, payload_text: '{"a":1}', status: 'open' });
    expect(await run('discard', tenant, id)).toEqual({ id, status: 'discarded' });
    await expect(run('discard', tenant, id)).rejects.toThrow(/is discarded/);
    await expect(run('list', tenant, '--status', 'closed')).rejects.toThrow(/--status must be one of/);
  });
});
