import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forTenant } from '@switchyard/db';
import { publishEvent } from '@switchyard/nats';
import { dlqRecordSchema, dlqSubject, durableName, eventsSubject, newEventId, STREAMS, type DlqRecord } from '@switchyard/schema';
import type { RunningService } from '@switchyard/service';
import { eventually, randomName, startServiceHarness, type ServiceHarness } from '@switchyard/testing';
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
  let h: ServiceHarness<RunningService>;
  let tenant: string;

  beforeAll(async () => {
    h = await startServiceHarness({ service: 'media', start: (env, options) => startMedia(loadMediaConfig(env), options) });
    tenant = await h.addTenant();
  });

  afterAll(async () => {
    await h?.stop();
  });

  const publish = (event: Record<string, unknown>, msgId: string) =>
    publishEvent(h.js, eventsSubject(tenant, 'phone-1', 'message.received'), new TextEncoder().encode(JSON.stringify(event)), { msgId });

  const jobs = async (): Promise<JobRow[]> =>
    (await forTenant(h.pool, tenant).query<JobRow>('SELECT event_id, kind, status, descriptor FROM :SCHEMA.media_jobs ORDER BY created_at')).rows;

  it('records one pending job per media-bearing event, none for text, and survives a replay', async () => {
    const text = messageEvent(tenant, { text: 'hello' });
    const photo = messageEvent(tenant, { message_type: 'imageMessage', media: image });
    const later = messageEvent(tenant, { message_type: 'imageMessage', media: { kind: 'document', file_name: 'a.pdf' } });
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
    const exposition = await (await fetch(`${h.url}/metrics`)).text();
    const created = exposition
      .split('\n')
      .filter((line) => line.startsWith('media_jobs_created_total{') && line.includes(`tenant="${tenant}"`))
      .map((line) => [/kind="(\w+)"/.exec(line)?.[1], Number(line.split(' ').at(-1))]);
    expect(Object.fromEntries(created)).toEqual({ image: 1, document: 1 });
  });

  it('reads only the types that can carry media: receipts and other events never reach it', async () => {
    const other = await h.addTenant();
    const receipt = {
      ...messageEvent(other, {}),
      type: 'message.read',
      data: { message_id: randomName('msg'), chat_jid: '5511999999999@s.whatsapp.net', from_me: true, status: 'read', timestamp: '2026-11-23T10:00:01.000Z' },
    };
    const photo = messageEvent(other, { message_type: 'imageMessage', media: image });
    await publishEvent(h.js, eventsSubject(other, 'phone-1', 'message.read'), new TextEncoder().encode(JSON.stringify(receipt)), { msgId: receipt.id });
    await publishEvent(h.js, eventsSubject(other, 'phone-1', 'message.received'), new TextEncoder().encode(JSON.stringify(photo)), { msgId: photo.id });

    await eventually(async () => {
      const { rows } = await forTenant(h.pool, other).query<{ event_id: string }>('SELECT event_id FROM :SCHEMA.media_jobs');
      return rows.some((row) => row.event_id === photo.id) ? true : undefined;
    }, 20_000, "the photo's job");
    const info = await h.jsm.consumers.info(STREAMS.events, durableName('media', other));
    expect(info.config.filter_subjects).toEqual([`v1.events.${other}.*.message.received`, `v1.events.${other}.*.message.sent`]);
    // The receipt was stored in EVENTS first, yet the durable delivered one message: the photo.
    expect(info.delivered.consumer_seq).toBe(1);
    expect(info.num_pending).toBe(0);
  });

  it('dead-letters an invalid envelope with its raw bytes', async () => {
    const raw = JSON.stringify({ id: newEventId(), tenant, type: 'message.received', data: {} });
    const msgId = newEventId();
    await publishEvent(h.js, eventsSubject(tenant, 'phone-1', 'message.received'), new TextEncoder().encode(raw), { msgId });

    const record = await eventually(async (): Promise<DlqRecord | undefined> => {
      const stored = await h.jsm.streams.getMessage(STREAMS.dlq, { last_by_subj: dlqSubject(tenant) }).catch(() => undefined);
      if (stored === undefined) return undefined;
      const parsed = dlqRecordSchema.parse(stored.json<unknown>());
      return parsed.service === 'media' && parsed.event_id === msgId ? parsed : undefined;
    }, 20_000, 'the DLQ record');
    expect(record.reason).toBe('SCHEMA_INVALID');
    expect(record.retryable).toBe(false);
    expect(Buffer.from(record.payload_base64, 'base64').toString('utf8')).toBe(raw);
  });
});
