import { initAuthCreds } from '@whiskeysockets/baileys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forTenant, type Pool } from '@switchyard/db';
import {
  createTestPool,
  createTestTenant,
  eventually,
  startNatsServer,
  type NatsServer,
  type TestTenant,
} from '@switchyard/testing';
import type { CaptureService } from './app.ts';
import { captureFleet, closeUpdate, tenantKeys, testSockets, type CaptureFleet, type TestSocket } from './session-test-support.ts';
import { SESSION_CONTROL_SUBJECT } from './session-control-responder.ts';
import { getSession } from './session-store.ts';

describe('sessions', () => {
  let server: NatsServer;
  let pool: Pool;
  let tenant: TestTenant;
  let fleet: CaptureFleet;
  let capture: CaptureService;
  let keys: { admin: string; read: string };
  const sockets = testSockets();

  beforeAll(async () => {
    server = await startNatsServer();
    pool = await createTestPool();
    tenant = await createTestTenant(pool);
    keys = await tenantKeys(pool, tenant.tenant);
    fleet = await captureFleet(server.url);
    await fleet.announce(tenant.tenant);
    // A reconnect backoff of 1-2 s, so the transient `disconnected` state lasts long enough for the
    // status poll to see it even on a loaded machine (with 100 ms it could come and go unseen).
    capture = await fleet.start({ CAPTURE_RECONNECT_INITIAL: '2s', CAPTURE_RECONNECT_MAX: '2s' }, sockets);
  });
  afterAll(async () => {
    await fleet.stop();
    await tenant.cleanup();
    await pool.end();
    await server.stop();
  });

  async function api(method: string, path: string, key: string, body?: unknown): Promise<{ status: number; body: { data?: { session?: Record<string, unknown> }; error?: { code: string } } }> {
    const res = await fetch(`${capture.address.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as never };
  }

  async function socketNumber(instance: string, n: number): Promise<TestSocket> {
    return eventually(async () => sockets.of(tenant.tenant, instance)[n - 1], 10_000, `socket #${n} of ${instance}`);
  }

  async function status(instance: string): Promise<Record<string, unknown>> {
    return (await api('GET', `/api/sessions/${instance}`, keys.read)).body.data?.session ?? {};
  }

  async function untilStatus(instance: string, want: string): Promise<Record<string, unknown>> {
    return eventually(async () => {
      const s = await status(instance);
      return s['status'] === want ? s : undefined;
    }, 10_000, `${instance} ${want}`);
  }

  async function sessionEvents(instance: string): Promise<string[]> {
    return (await fleet.ingested(tenant.tenant)).filter((e) => e.instance === instance && e.type.startsWith('session.')).map((e) => e.type);
  }

  it('creates, connects with a QR, persists creds, reconnects by DisconnectReason, and stops on replaced', async () => {
    expect((await api('POST', '/api/sessions', keys.read, { instance: 'desk' })).status).toBe(403);
    expect((await api('POST', '/api/sessions', keys.admin, { instance: 'desk' })).status).toBe(201);
    expect((await api('POST', '/api/sessions', keys.admin, { instance: 'desk' })).status).toBe(200);
    expect((await api('POST', '/api/sessions', keys.admin, { instance: 'Bad Id' })).status).toBe(400);
    expect((await status('desk'))['status']).toBe('created');
    expect(sockets.of(tenant.tenant, 'desk')).toHaveLength(0);

    expect((await api('POST', '/api/sessions/desk/connect', keys.admin, {})).status).toBe(202);
    const first = await socketNumber('desk', 1);
    first.ev.emit('connection.update', { connection: 'connecting' });
    first.ev.emit('connection.update', { qr: 'qr-ref-1' });
    expect((await untilStatus('desk', 'qr'))['qr']).toBe('qr-ref-1');

    // Pairing completes: Baileys updates the creds; they must land in Postgres.
    Object.assign(first.input.auth.creds, { registered: true, me: { id: '15550001111:3@s.whatsapp.net', lid: '999:3@lid' } });
    first.ev.emit('creds.update', { registered: true });
    first.user = { id: '15550001111:3@s.whatsapp.net', lid: '999:3@lid' };
    first.ev.emit('connection.update', { connection: 'open' });
    const open = await untilStatus('desk', 'open');
    expect(open).toMatchObject({ qr: null, me: { jid: '15550001111:3@s.whatsapp.net', lid: '999:3@lid' } });
    await eventually(async () => {
      const row = await pool.query<{ r: string | null }>(`SELECT creds->>'registered' AS r FROM ${forTenant(pool, tenant.tenant).table('wa_auth_creds')} WHERE instance = 'desk'`);
      return row.rows[0]?.r === 'true' ? true : undefined;
    });

    // restartRequired: a new socket at once, resuming with the stored creds.
    first.ev.emit('connection.update', closeUpdate(515, 'Stream Errored (restart required)'));
    const second = await socketNumber('desk', 2);
    expect(second.input.auth.creds.registered).toBe(true);
    expect(second.input.auth.creds.noiseKey).toEqual(first.input.auth.creds.noiseKey);
    second.ev.emit('connection.update', { connection: 'open' });
    await untilStatus('desk', 'open');

    // connectionLost: reconnect after a backoff.
    second.ev.emit('connection.update', closeUpdate(408, 'Connection Lost'));
    expect((await untilStatus('desk', 'disconnected'))['status_code']).toBe(408);
    const third = await socketNumber('desk', 3);
    third.ev.emit('connection.update', { connection: 'open' });
    await untilStatus('desk', 'open');

    // connectionReplaced: another client has the session; do not fight it.
    third.ev.emit('connection.update', closeUpdate(440, 'Connection Replaced'));
    const replaced = await untilStatus('desk', 'replaced');
    expect(replaced['desired']).toBe('stopped');
    await new Promise((r) => setTimeout(r, 1_000));
    expect(sockets.of(tenant.tenant, 'desk')).toHaveLength(3);

    await capture.sessions.runner(tenant.tenant, 'desk')?.idle();
    expect(await sessionEvents('desk')).toEqual([
      'session.qr',
      'session.connected',
      'session.disconnected',
      'session.connected',
      'session.disconnected',
      'session.connected',
      'session.disconnected',
    ]);
  });

  it('collapses a storm of 1,000 connection updates into state changes', async () => {
    await api('POST', '/api/sessions', keys.admin, { instance: 'storm' });
    await api('POST', '/api/sessions/storm/connect', keys.admin, {});
    const sock = await socketNumber('storm', 1);
    for (let i = 0; i < 1_000; i++) {
      if (i % 250 === 0) sock.ev.emit('connection.update', { connection: i % 500 === 0 ? 'connecting' : 'open' });
      else sock.ev.emit('connection.update', i % 2 === 0 ? { isOnline: true } : { receivedPendingNotifications: true, connection: i > 500 ? 'open' : 'connecting' });
    }
    await untilStatus('storm', 'open');
    await capture.sessions.runner(tenant.tenant, 'storm')?.idle();
    // connecting → open (250) → connecting (500) → open (501+): two opens, nothing per repeat.
    expect(await sessionEvents('storm')).toEqual(['session.connected', 'session.connected']);
    const writes = await getSession(forTenant(pool, tenant.tenant), 'storm');
    expect(writes?.status).toBe('open');
  });

  it('offers a pairing code for a phone number instead of the QR', async () => {
    await api('POST', '/api/sessions', keys.admin, { instance: 'pair' });
    expect((await api('POST', '/api/sessions/pair/connect', keys.admin, { pairing_phone: '+49 170' })).status).toBe(400);
    await api('POST', '/api/sessions/pair/connect', keys.admin, { pairing_phone: '4917012345678' });
    const sock = await socketNumber('pair', 1);
    sock.ev.emit('connection.update', { qr: 'qr-for-pairing' });
    const s = await eventually(async () => {
      const v = await status('pair');
      return v['pairing_code'] === 'ABCD1234' ? v : undefined;
    });
    expect(s['pairing_phone']).toBe('4917012345678');
    expect(sock.pairingRequests).toEqual(['4917012345678']);
  });

  it('logs out through the socket and forgets the creds; a logout from the phone stops without reconnecting', async () => {
    await api('POST', '/api/sessions', keys.admin, { instance: 'out' });
    await api('POST', '/api/sessions/out/connect', keys.admin, {});
    const sock = await socketNumber('out', 1);
    Object.assign(sock.input.auth.creds, initAuthCreds(), { registered: true });
    sock.ev.emit('creds.update', { registered: true });
    sock.ev.emit('connection.update', { connection: 'open' });
    await untilStatus('out', 'open');
    expect((await api('POST', '/api/sessions/out/logout', keys.admin)).status).toBe(202);
    const loggedOut = await untilStatus('out', 'logged_out');
    expect(loggedOut['desired']).toBe('stopped');
    expect(sock.loggedOut).toBe(true);
    const creds = await pool.query(`SELECT 1 FROM ${forTenant(pool, tenant.tenant).table('wa_auth_creds')} WHERE instance = 'out'`);
    expect(creds.rowCount).toBe(0);

    // Connect again, then WhatsApp logs the device out (401 from the server).
    await api('POST', '/api/sessions/out/connect', keys.admin, {});
    const again = await socketNumber('out', 2);
    again.ev.emit('connection.update', { connection: 'open' });
    await untilStatus('out', 'open');
    again.ev.emit('connection.update', closeUpdate(401, 'Connection Failure'));
    await untilStatus('out', 'logged_out');
    await new Promise((r) => setTimeout(r, 800));
    expect(sockets.of(tenant.tenant, 'out')).toHaveLength(2);
    await capture.sessions.runner(tenant.tenant, 'out')?.idle();
    expect((await sessionEvents('out')).filter((t) => t === 'session.logged_out')).toHaveLength(2);
  });

  it('answers the CLI over NATS request/reply', async () => {
    const ask = async (request: Record<string, unknown>): Promise<{ ok: boolean; data?: { session?: { status: string; qr: string | null } }; code?: string }> =>
      JSON.parse(new TextDecoder().decode((await fleet.nc.request(SESSION_CONTROL_SUBJECT, new TextEncoder().encode(JSON.stringify(request)))).data)) as never;
    expect(await ask({ op: 'create', tenant: tenant.tenant, instance: 'cli' })).toMatchObject({ ok: true });
    expect(await ask({ op: 'status', tenant: 'nosuchtenant', instance: 'cli' })).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    expect(await ask({ op: 'connect', tenant: tenant.tenant, instance: 'Bad' })).toMatchObject({ ok: false, code: 'VALIDATION_FAILED' });
    expect(await ask({ op: 'connect', tenant: tenant.tenant, instance: 'cli' })).toMatchObject({ ok: true });
    const sock = await socketNumber('cli', 1);
    sock.ev.emit('connection.update', { qr: 'qr-for-cli' });
    await eventually(async () => {
      const reply = await ask({ op: 'status', tenant: tenant.tenant, instance: 'cli' });
      return reply.data?.session?.qr === 'qr-for-cli' ? true : undefined;
    });
  });

  it('deletes a session; another tenant cannot see it', async () => {
    await api('POST', '/api/sessions', keys.admin, { instance: 'gone' });
    const list = await api('GET', '/api/sessions', keys.read);
    expect(list.status).toBe(200);
    expect((await api('DELETE', '/api/sessions/gone', keys.admin)).status).toBe(202);
    await eventually(async () => ((await api('GET', '/api/sessions/gone', keys.read)).status === 404 ? true : undefined));
    expect((await api('POST', '/api/sessions/gone/connect', keys.admin, {})).body.error?.code).toBe('NOT_FOUND');
  });
});
