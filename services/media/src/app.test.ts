import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import { forTenant, type Pool } from '@switchyard/db';
import { announceTenant, publishEvent } from '@switchyard/nats';
import { dlqRecordSchema, dlqSubject, eventsSubject, newEventId, STREAMS, type DlqRecord } from '@switchyard/schema';
import type { RunningService } from '@switchyard/service';
import {
  createTestPool,
  createTestTenant,
  eventually,
  randomName,
  startNatsServer,
  testLogger,
  testServiceEnv,
  type NatsServer,
  type TestTenant,
} from '@switchyard/testing';
import { startMedia } from './app.ts';
import { loadMediaConfig } from './config.ts';

const image = { kind: 'image', mimetype: 'image/jpeg', file_length: 1234, media_key: 'AAECAw==', direct_path: '/v/t62.7118-24/abc' };

function messageEvent(tenant: string, data: Record<string, unknown>): Record<string, unknown> & { id: string } {
  return {
    id: newEventId(),
    tenant,
    instance: 'phone-1',
    type: 'message.received',
    schema_version: 1,
    occurred_at: '2026-11-23T10:00:00.000Z',
    captured_at: '2026-11-23T10:00:00.100Z',
    source: 'baileys',
    data: {
      message_id: randomName('msg'),
      chat_jid: '5511999999999@s.whatsapp.net',
      from_me: false,
      timestamp: '2026-11-23T10:00:00.000Z',
      message_type: 'conversation',
      ...data,
    },
  };
}

interface JobRow {
  event_id: string;
  kind: string;
  status: string;
  descriptor: unknown;
}

describe('media service', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  let pool: Pool;
  let tenant: TestTenant;
  let media: RunningService;

  beforeAll(async () => {
    nats = await startNatsServer();
    pool = await createTestPool();
    tenant = await createTestTenant(pool);
    const tenantBucket = randomName('tenants');
    media = await startMedia(loadMediaConfig(testServiceEnv(nats.url)), { logger: testLogger('media'), tenantBucket });
    nc = await connect({ servers: nats.url });
    js = nc.jetstream();
    jsm = await nc.jetstreamManager();
    await announceTenant(js, tenant.tenant, {}, { bucket: tenantBucket });
  });

  afterAll(async () => {
    await media?.stop();
    await nc?.drain();
    await tenant?.cleanup();
    await pool?.end();
    await nats?.stop();
  });

  const publish = (event: Record<string, unknown>, msgId: string) =>
    publishEvent(js, eventsSubject(tenant.tenant, 'phone-1', 'message.received'), new TextEncoder().encode(JSON.stringify(event)), { msgId });

  const jobs = async (): Promise<JobRow[]> =>
    (await forTenant(pool, tenant.tenant).query<JobRow>('SELECT event_id, kind, status, descriptor FROM :SCHEMA.media_jobs ORDER BY created_at')).rows;

  it('records one pending job per media-bearing event, none for text, and survives a replay', async () => {
    const text = messageEvent(tenant.tenant, { text: 'hello' });
    const photo = messageEvent(tenant.tenant, { message_type: 'imageMessage', media: image });
    const later = messageEvent(tenant.tenant, { message_type: 'imageMessage', media: { kind: 'document', file_name: 'a.pdf' } });
    await publish(text, text.id);
    await publish(photo, photo.id);
    // A replay past the dedupe window reaches media under another Nats-Msg-Id: the insert must hold.
    await publish(photo, `${photo.id}:replay`);
    await publish(later, later.id);

    // One durable per tenant delivers in order, so once `later` has a job every earlier event is done.
    const rows = await eventually(async () => {
      const found = await jobs();
      return found.some((row) => row.event_id === later.id) ? found : undefined;
    }, 20_000, 'the job of the last event');

    expect(rows.map((row) => row.event_id)).toEqual([photo.id, later.id]);
    expect(rows[0]).toEqual({ event_id: photo.id, kind: 'image', status: 'pending', descriptor: image });
    const exposition = await (await fetch(`${media.address.url}/metrics`)).text();
    const created = exposition
      .split('\n')
      .filter((line) => line.startsWith('media_jobs_created_total{') && line.includes(`tenant="${tenant.tenant}"`))
      .map((line) => [/kind="(\w+)"/.exec(line)?.[1], Number(line.split(' ').at(-1))]);
    expect(Object.fromEntries(created)).toEqual({ image: 1, document: 1 });
  });

  it('dead-letters an invalid envelope with its raw bytes', async () => {
    const raw = JSON.stringify({ id: newEventId(), tenant: tenant.tenant, type: 'message.received', data: {} });
    const msgId = newEventId();
    await publishEvent(js, eventsSubject(tenant.tenant, 'phone-1', 'message.received'), new TextEncoder().encode(raw), { msgId });

    const record = await eventually(async (): Promise<DlqRecord | undefined> => {
      const stored = await jsm.streams.getMessage(STREAMS.dlq, { last_by_subj: dlqSubject(tenant.tenant) }).catch(() => undefined);
      if (stored === undefined) return undefined;
      const parsed = dlqRecordSchema.parse(stored.json<unknown>());
      return parsed.service === 'media' && parsed.event_id === msgId ? parsed : undefined;
    }, 20_000, 'the DLQ record');
    expect(record.reason).toBe('SCHEMA_INVALID');
    expect(record.retryable).toBe(false);
    expect(Buffer.from(record.payload_base64, 'base64').toString('utf8')).toBe(raw);
  });
});
