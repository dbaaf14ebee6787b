import { makeEventBuffer } from '@whiskeysockets/baileys';
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { forTenant, type Pool } from '@switchyard/db';
import { ensureStreams } from '@switchyard/nats';
import { createMetricsRegistry } from '@switchyard/runtime';
import { ingestSubject, parseEnvelope, STREAMS, type EventEnvelope } from '@switchyard/schema';
import {
  createTestPool,
  createTestTenant,
  startNatsServer,
  type NatsServer,
  type TestTenant,
} from '@switchyard/testing';
import { attachCaptureAdapter, type CaptureAdapter } from './baileys-adapter.ts';
import { emitFixture, eventPayload, loadEventFixtures } from './event-fixtures.ts';
import { captureMetrics } from './metrics.ts';
import { lastSeq } from './sequence.ts';
import { fixture, loadUpsertFixtures, readStream, silentLogger } from './test-support.ts';

const INSTANCE = 'phone-1';

/** The shape of the Boom errors Baileys closes with (`output.statusCode`), without depending on @hapi/boom. */
function boom(message: string, statusCode: number): Error {
  return Object.assign(new Error(message), { output: { statusCode } });
}

describe('attachCaptureAdapter', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let pool: Pool;
  let tenant: TestTenant;
  const adapters: CaptureAdapter[] = [];

  beforeAll(async () => {
    // A private server: this file owns its INGEST stream and stops/restarts NATS.
    server = await startNatsServer();
    nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    jsm = await nc.jetstreamManager();
    pool = await createTestPool();
  });
  afterAll(async () => {
    await nc.drain();
    await server.stop();
    await pool.end();
  });
  beforeEach(async () => {
    await jsm.streams.delete(STREAMS.ingest).catch(() => false);
    await ensureStreams(jsm);
    tenant = await createTestTenant(pool);
  });
  afterEach(async () => {
    for (const adapter of adapters.splice(0)) await adapter.close();
    await tenant.cleanup();
  });

  function attach(
    ev: ReturnType<typeof makeEventBuffer>,
    options: { self?: () => { jid: string } } = {},
  ) {
    const registry = createMetricsRegistry('capture');
    const adapter = attachCaptureAdapter({
      ev,
      tenant: tenant.tenant,
      instance: INSTANCE,
      js: nc.jetstream(),
      db: forTenant(pool, tenant.tenant),
      logger: silentLogger,
      metrics: captureMetrics(registry),
      publishTimeoutMs: 1_000,
      backoff: { initialMs: 50, maxMs: 200 },
      ...options,
    });
    adapters.push(adapter);
    return { adapter, registry };
  }

  async function ingested(): Promise<
    Array<{ subject: string; msgId: string | undefined; event: EventEnvelope }>
  > {
    return (await readStream(jsm, STREAMS.ingest)).map((msg) => {
      const parsed = parseEnvelope(msg.data);
      if (!parsed.ok) throw new Error(`invalid event on INGEST: ${parsed.message}`);
      return { subject: msg.subject, msgId: msg.header.get('Nats-Msg-Id'), event: parsed.event };
    });
  }

  it('publishes every captured message to INGEST in emit order, with subjects, ids and seq', async () => {
    const ev = makeEventBuffer(silentLogger);
    const { adapter, registry } = attach(ev);
    const cases = [...loadUpsertFixtures().values()];
    for (const { upsert } of cases) ev.emit('messages.upsert', upsert);
    await adapter.idle();

    const stored = await ingested();
    const expectedIds = cases
      .flatMap(({ upsert }) => upsert.messages.map((m) => m.key.id))
      .filter((id): id is string => typeof id === 'string');
    // Skipped control messages (revoke, stub) are not on INGEST; everything else is, in order.
    expect(
      stored.map((s) =>
        s.event.type === 'message.received' || s.event.type === 'message.sent'
          ? s.event.data.message_id
          : s.event.type,
      ),
    ).toEqual(
      expectedIds.filter((id) => !['3EB0A1B2C3D4E5F60006', 'ACD4B7E1F2A3B4C5D6E8'].includes(id)),
    );
    expect(stored.map((s) => s.event.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const { subject, msgId, event } of stored) {
      expect(subject).toBe(ingestSubject(tenant.tenant, INSTANCE, event.type));
      expect(msgId).toBe(event.id);
      expect(event).toMatchObject({ tenant: tenant.tenant, instance: INSTANCE, source: 'baileys' });
    }
    expect(stored[1]?.event.type).toBe('message.sent');
    expect(
      stored.map((s) => s.event.type === 'message.received' && s.event.data.upsert_kind),
    ).toContain('append');
    expect(await lastSeq(forTenant(pool, tenant.tenant), INSTANCE)).toBe(6);

    const metrics = await registry.getMetricsAsJSON();
    const skipped = metrics.find((m) => m.name === 'capture_messages_skipped_total');
    expect(skipped?.values.map((v) => [v.labels['reason'], v.value]).sort()).toEqual([
      ['missing_key', 1],
      ['protocol', 1],
      ['stub', 1],
    ]);
    const pending = metrics.find((m) => m.name === 'capture_pending_events');
    expect(pending?.values[0]?.value).toBe(0);
  });

  it('captures a message re-emitted by Baileys once, without spending a seq on the copy', async () => {
    const ev = makeEventBuffer(silentLogger);
    const { adapter, registry } = attach(ev);
    ev.emit('messages.upsert', fixture('text-received-lid').upsert);
    ev.emit('messages.upsert', { ...fixture('text-received-lid').upsert, type: 'append' });
    ev.emit('messages.upsert', fixture('image-received').upsert);
    await adapter.idle();
    const stored = await ingested();
    expect(stored.map((s) => s.event.seq)).toEqual([1, 2]);
    const skipped = (await registry.getMetricsAsJSON()).find(
      (m) => m.name === 'capture_messages_skipped_total',
    );
    expect(skipped?.values.find((v) => v.labels['reason'] === 'duplicate')?.value).toBe(1);
  });

  it('stores a message re-captured after a restart once: same event id, Nats-Msg-Id deduplication', async () => {
    const first = makeEventBuffer(silentLogger);
    const before = attach(first).adapter;
    first.emit('messages.upsert', fixture('text-received-lid').upsert);
    await before.idle();
    await before.close();

    const second = makeEventBuffer(silentLogger);
    const after = attach(second).adapter;
    second.emit('messages.upsert', fixture('text-received-lid').upsert);
    await after.idle();

    const stored = await ingested();
    expect(stored).toHaveLength(1);
    expect(stored[0]?.msgId).toBe(stored[0]?.event.id);
    // The copy took seq 2 before INGEST dropped it; persistence sees that as a gap (see recent-ids.ts).
    expect(await lastSeq(forTenant(pool, tenant.tenant), INSTANCE)).toBe(2);
  });

  it('handles a consolidated batch from a buffered flush', async () => {
    const ev = makeEventBuffer(silentLogger);
    const { adapter } = attach(ev);
    ev.buffer();
    ev.emit('messages.upsert', fixture('text-received-lid').upsert);
    ev.emit('messages.upsert', fixture('image-received').upsert);
    ev.emit('messages.upsert', fixture('text-received-lid').upsert); // merged by Baileys' buffer
    ev.flush();
    await adapter.idle();
    const stored = await ingested();
    expect(stored.map((s) => s.event.seq)).toEqual([1, 2]);
    expect(
      stored.map((s) => s.event.type === 'message.received' && s.event.data.message_type),
    ).toEqual(['conversation', 'imageMessage']);
  });

  it('continues seq after a restart, from the counter in Postgres', async () => {
    const first = makeEventBuffer(silentLogger);
    const before = attach(first).adapter;
    first.emit('messages.upsert', fixture('text-received-lid').upsert);
    first.emit('messages.upsert', fixture('image-received').upsert);
    await before.idle();
    await before.close();

    // A new process: a new emitter and adapter, same tenant database.
    const second = makeEventBuffer(silentLogger);
    const after = attach(second).adapter;
    second.emit('messages.upsert', fixture('document-received').upsert);
    second.emit('messages.upsert', fixture('append-history').upsert);
    await after.idle();

    const stored = await ingested();
    expect(stored.map((s) => s.event.seq)).toEqual([1, 2, 3, 4]);
  });

  it('maps connection.update state changes to session events', async () => {
    const ev = makeEventBuffer(silentLogger);
    const { adapter } = attach(ev, { self: () => ({ jid: '15559990000@s.whatsapp.net' }) });
    ev.emit('connection.update', { connection: 'connecting' });
    ev.emit('connection.update', { qr: 'qr-ref-1' });
    ev.emit('connection.update', { qr: 'qr-ref-1' }); // unchanged: no event
    ev.emit('connection.update', { connection: 'open' });
    ev.emit('connection.update', { connection: 'open', isOnline: true }); // not a state change
    ev.emit('connection.update', {
      connection: 'close',
      lastDisconnect: { error: boom('Connection Lost', 408), date: new Date() },
    });
    ev.emit('connection.update', { connection: 'open' });
    ev.emit('connection.update', {
      connection: 'close',
      lastDisconnect: { error: boom('Intentional Logout', 401), date: new Date() },
    });
    await adapter.idle();
    const stored = (await ingested()).map((s) => s.event);
    expect(stored.map((e) => e.type)).toEqual([
      'session.qr',
      'session.connected',
      'session.disconnected',
      'session.connected',
      'session.logged_out',
    ]);
    expect(stored[0]).toMatchObject({ data: { qr: 'qr-ref-1' } });
    expect(stored[1]).toMatchObject({ data: { jid: '15559990000@s.whatsapp.net' } });
    expect(stored[2]).toMatchObject({
      data: { status_code: 408, will_reconnect: true, reason: 'timedOut: Connection Lost' },
    });
    expect(stored[4]).toMatchObject({ data: { reason: 'loggedOut: Intentional Logout' } });
    expect(stored.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('lands every Baileys event kind on INGEST in emit order, one event per occurrence', async () => {
    const ev = makeEventBuffer(silentLogger);
    const { adapter, registry } = attach(ev, { self: () => ({ jid: '15559990000@s.whatsapp.net' }) });
    for (const fixture of loadEventFixtures()) emitFixture(ev, fixture);
    await adapter.idle();

    const stored = await ingested();
    // The second report of a revoke, an edit and a reaction is the same event: not stored twice.
    expect(stored.map((s) => s.event.type)).toEqual([
      'message.deleted', // revoke-upsert (revoke-update: same id)
      'message.edited', // edit-upsert (edit-update: same id)
      'message.reaction', // reaction-upsert
      'message.reaction', // reactions: the removal (the 👍 is the upserted one)
      'message.delivered', 'message.read', 'message.played',
      'message.delivered', 'message.delivered', 'message.read', // group receipts
      'message.deleted', 'message.deleted', // for me; chat cleared
      'presence.updated', 'presence.updated', 'presence.updated',
      'chat.upserted', 'chat.upserted',
      'chat.updated', 'chat.updated', 'chat.updated', 'chat.updated',
      'chat.deleted',
      'contact.upserted', 'contact.upserted', 'contact.updated', 'contact.updated',
      'group.upserted', 'group.updated',
      'group.participants_added', 'group.participants_removed', 'group.participants_promoted',
      'group.participants_demoted', 'group.participants_modified', 'group.join_requested',
      'call.offered', 'call.accepted', 'call.rejected', 'call.timeout', 'call.terminated',
      'label.edited', 'label.associated', 'label.dissociated',
      'blocklist.set', 'blocklist.updated', 'lid.mapped',
      'history.chats', 'history.contacts', 'history.messages',
    ]);
    expect(stored.map((s) => s.event.seq)).toEqual(stored.map((_, i) => i + 1));
    for (const { subject, msgId, event } of stored) {
      expect(subject).toBe(ingestSubject(tenant.tenant, INSTANCE, event.type));
      expect(msgId).toBe(event.id);
      expect(event).toMatchObject({ tenant: tenant.tenant, instance: INSTANCE, source: 'baileys' });
    }
    const skipped = (await registry.getMetricsAsJSON()).find(
      (m) => m.name === 'capture_messages_skipped_total',
    );
    expect(Object.fromEntries(skipped?.values.map((v) => [v.labels['reason'], v.value]) ?? [])).toEqual({
      duplicate: 3,
      update_other: 1,
      call_signal: 1,
      stub: 1, // the group-creation stub inside the history chunk
    });
  });

  it('maps a buffered flush that consolidates several kinds, including what Baileys folded into a message', async () => {
    const ev = makeEventBuffer(silentLogger);
    const { adapter } = attach(ev);
    const message = fixture('text-received-lid').upsert;
    const key = message.messages[0]!.key;
    ev.buffer();
    ev.emit('contacts.update', eventPayload('contacts-update', 'contacts.update'));
    ev.emit('messages.upsert', message);
    // Arriving in the same flush as their message, Baileys merges these into it.
    ev.emit('messages.update', [{ key, update: { status: 4 } }]);
    ev.emit('messages.reaction', [
      {
        key,
        reaction: { key: { remoteJid: key.remoteJid, fromMe: true, id: '3EB0REACT00000000001' }, text: '❤️' },
      },
    ]);
    ev.emit('chats.upsert', eventPayload('chats-upsert', 'chats.upsert'));
    ev.emit('messaging-history.set', eventPayload('history-set', 'messaging-history.set'));
    ev.emit('groups.update', eventPayload('groups-update', 'groups.update'));
    ev.flush();
    await adapter.idle();

    const stored = (await ingested()).map((s) => s.event);
    // Baileys' consolidation order: history, chats, messages, contacts, groups.
    expect(stored.map((e) => e.type)).toEqual([
      'history.chats',
      'history.contacts',
      'history.messages',
      'chat.upserted',
      'chat.upserted',
      'message.received',
      'message.read',
      'message.reaction',
      'contact.updated',
      'contact.updated',
      'group.updated',
    ]);
    expect(stored[6]).toMatchObject({ data: { message_id: key.id, from_me: false } });
    expect(stored[7]).toMatchObject({ data: { message_id: key.id, text: '❤️', from_me: true } });
    expect(stored.map((e) => e.seq)).toEqual(stored.map((_, i) => i + 1));
  });

  it('keeps events while NATS is down and publishes them, in order, once it is back', async () => {
    const ev = makeEventBuffer(silentLogger);
    const { adapter, registry } = attach(ev);
    await server.kill();
    ev.emit('messages.upsert', fixture('text-received-lid').upsert);
    ev.emit('messages.upsert', fixture('text-sent-own-device').upsert);
    ev.emit('messages.upsert', fixture('group-message-participant').upsert);
    // The emitter returned at once; the events wait in the instance's queue.
    expect(adapter.pending()).toBe(3);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(adapter.pending()).toBe(3);
    await server.restart();
    await adapter.idle();

    const stored = await ingested();
    expect(stored.map((s) => s.event.seq)).toEqual([1, 2, 3]);
    expect(stored.map((s) => s.event.type)).toEqual([
      'message.received',
      'message.sent',
      'message.received',
    ]);
    const failures = (await registry.getMetricsAsJSON()).find(
      (m) => m.name === 'capture_publish_failures_total',
    );
    expect(failures?.values[0]?.value).toBeGreaterThan(0);
  });
});
