import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addEndpoint, quoteIdent, tenantSchemaName, type Pool } from '@switchyard/db';
import { announceTenant, publishEvent } from '@switchyard/nats';
import { eventsSubject, newEventId } from '@switchyard/schema';
import {
  createTestPool,
  createTestTenant,
  eventually,
  startHttpReceiver,
  startNatsServer,
  TEST_DATABASE_URL,
  type HttpReceiver,
  type NatsServer,
  type TestTenant,
} from '@switchyard/testing';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

/**
 * The dispatcher as its own process, so "killed" means SIGKILL: no shutdown hook runs, nothing
 * is handed back, and whatever survives is what JetStream and Postgres hold.
 */
function startDispatcher(natsUrl: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      NATS_URL: natsUrl,
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_POOL_MAX: '3',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      LOG_LEVEL: 'error',
      WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
      // A killed replica's delivery returns to the next one after this.
      WEBHOOK_ACK_WAIT: '1s',
      WEBHOOK_ENDPOINT_CACHE_TTL: '200ms',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

describe('webhook-dispatch killed mid-retry', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let pool: Pool;
  let tenant: TestTenant;
  let hook: HttpReceiver;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    pool = await createTestPool();
    tenant = await createTestTenant(pool, 'k');
    hook = await startHttpReceiver();
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await hook?.close();
    await nc?.close();
    await tenant?.cleanup();
    await pool?.end();
    await nats?.stop();
  });

  it('resumes the schedule from the delivery log after a SIGKILL and still delivers, once more only', async () => {
    let answered = 0;
    hook.respondWith(() => ({ status: ++answered === 1 ? 500 : 200 }));
    const endpoint = await addEndpoint(pool, tenant.tenant, { url: `${hook.url}/hook`, retryDelaysMs: [2_500] });
    children.push(startDispatcher(nats.url));
    await announceTenant(nc.jetstream(), tenant.tenant);

    const id = newEventId();
    const body = JSON.stringify({ id, tenant: tenant.tenant, instance: 'phone-1', type: 'session.connected', schema_version: 1, occurred_at: '2026-11-23T10:00:00.000Z', captured_at: '2026-11-23T10:00:00.100Z', seq: 1, source: 'baileys', data: { jid: '5511999999999@s.whatsapp.net', lid: '123456789@lid' } });
    // EVENTS may not exist until the dispatcher created it: retry the publish until it does.
    await eventually(async () => publishEvent(nc.jetstream(), eventsSubject(tenant.tenant, 'phone-1', 'session.connected'), new TextEncoder().encode(body), { msgId: id }), 30_000, 'EVENTS');

    await hook.waitFor(1, undefined, 30_000);
    const table = `${quoteIdent(tenantSchemaName(tenant.tenant))}.webhook_deliveries`;
    const row = async () => (await pool.query<{ status: string; attempts: number }>(`SELECT status, attempts FROM ${table} WHERE endpoint_id = $1 AND event_id = $2`, [endpoint.id, id])).rows[0];
    await eventually(async () => ((await row())?.status === 'retrying' ? true : undefined), 10_000, 'the failed attempt logged');
    children[0]?.kill('SIGKILL');

    children.push(startDispatcher(nats.url));
    await eventually(async () => ((await row())?.status === 'delivered' ? true : undefined), 30_000, 'delivered by the restarted dispatcher');
    expect(hook.requests).toHaveLength(2);
    expect(await row()).toEqual({ status: 'delivered', attempts: 2 });
    // The second attempt kept the schedule's wait (2.5 s ± 10%) although the process died during it.
    expect((hook.requests[1]?.receivedAt ?? 0) - (hook.requests[0]?.receivedAt ?? 0)).toBeGreaterThanOrEqual(2_000);
  });
});
