import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addEndpoint, type AddEndpointInput, type Endpoint } from '@switchyard/db';
import { publishEvent } from '@switchyard/nats';
import { dlqRecordSchema, dlqSubject, durableName, eventsSubject, newEventId, STREAMS, type DlqRecord } from '@switchyard/schema';
import type { RunningService } from '@switchyard/service';
import {
  eventually,
  startHttpReceiver,
  startServiceHarness,
  type HttpReceiver,
  type ReceivedRequest,
  type ServiceHarness,
} from '@switchyard/testing';
import { startWebhookDispatch } from './app.ts';
import { loadWebhookDispatchConfig } from './config.ts';

interface Published {
  id: string;
  seq: number;
  body: string;
}

const messageData = {
  message_id: 'ABC123',
  chat_jid: '5511999999999@s.whatsapp.net',
  chat_lid: '123456789@lid',
  from_me: false,
  timestamp: '2026-11-23T10:00:00.000Z',
  message_type: 'conversation',
  text: 'olá',
};

describe('webhook-dispatch service', () => {
  let h: ServiceHarness<RunningService>;
  const receivers: HttpReceiver[] = [];

  beforeAll(async () => {
    h = await startServiceHarness({
      service: 'webhook-dispatch',
      // Two short retries: three deliveries in all, the last one 200 ms after the second.
      env: { WEBHOOK_RETRY_DELAYS: '0s,200ms' },
      start: (env, options) => startWebhookDispatch(loadWebhookDispatchConfig(env), options),
    });
  });

  afterAll(async () => {
    await h?.stop();
    for (const receiver of receivers) await receiver.close();
  });

  async function receiver(): Promise<HttpReceiver> {
    const started = await startHttpReceiver();
    receivers.push(started);
    return started;
  }

  /** A provisioned tenant with these endpoints, announced so the service starts consuming for it. */
  async function tenantWith(...inputs: AddEndpointInput[]): Promise<{ tenant: string; endpoints: Endpoint[] }> {
    // Announced before its endpoints exist: harmless, the service loads them with the first event.
    const tenant = await h.addTenant();
    const endpoints: Endpoint[] = [];
    for (const input of inputs) endpoints.push(await addEndpoint(h.pool, tenant, input));
    return { tenant, endpoints };
  }

  async function publish(tenant: string, type: string, data: Record<string, unknown>): Promise<Published> {
    const id = newEventId();
    // `data` first: the order the schema would never produce, so a re-encoded body would show.
    const body = JSON.stringify({
      data,
      id,
      tenant,
      instance: 'phone-1',
      type,
      schema_version: 1,
      occurred_at: '2026-11-23T10:00:00.000Z',
      captured_at: '2026-11-23T10:00:00.100Z',
      seq: 1,
      source: 'baileys',
    });
    const ack = await publishEvent(h.js, eventsSubject(tenant, 'phone-1', type), new TextEncoder().encode(body), { msgId: id });
    return { id, seq: ack.seq, body };
  }

  const forEvent = (event: Published) => (req: ReceivedRequest) => req.headers['webhook-id'] === event.id;

  async function acked(tenant: string, event: Published): Promise<void> {
    await eventually(async () => {
      const info = await h.jsm.consumers.info(STREAMS.events, durableName('webhook-dispatch', tenant)).catch(() => undefined);
      return info !== undefined && info.ack_floor.stream_seq >= event.seq && info.num_ack_pending === 0 ? true : undefined;
    }, 20_000, `ack of event ${event.id}`);
  }

  async function lastDlqRecord(tenant: string): Promise<DlqRecord | undefined> {
    const stored = await h.jsm.streams.getMessage(STREAMS.dlq, { last_by_subj: dlqSubject(tenant) }).catch(() => undefined);
    return stored === undefined ? undefined : dlqRecordSchema.parse(stored.json<unknown>());
  }

  it('delivers an event once, as published on EVENTS, signed so a Standard Webhooks receiver verifies it', async () => {
    const hook = await receiver();
    const { tenant, endpoints } = await tenantWith({ url: `${hook.url}/hook`, headers: { 'x-tenant-token': 'abc' } });
    const event = await publish(tenant, 'message.received', messageData);
    const next = await publish(tenant, 'message.received', { ...messageData, message_id: 'DEF456' });

    // Events of a tenant go out in order, so once `next` arrived, `event` is settled for good.
    await hook.waitFor(1, forEvent(next));
    const got = hook.requests.filter(forEvent(event));
    expect(got).toHaveLength(1);
    const [request] = got;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/hook');
    expect(request?.body).toBe(event.body);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['x-tenant-token']).toBe('abc');
    const headers = {
      'webhook-id': String(request?.headers['webhook-id']),
      'webhook-timestamp': String(request?.headers['webhook-timestamp']),
      'webhook-signature': String(request?.headers['webhook-signature']),
    };
    expect(new Webhook(endpoints[0]?.secret ?? '').verify(request?.body ?? '', headers)).toEqual(JSON.parse(event.body));
    await acked(tenant, next);
  });

  it('sends each endpoint only the types it subscribed to', async () => {
    const hook = await receiver();
    const { tenant } = await tenantWith(
      { url: `${hook.url}/messages`, eventTypes: ['message.*'] },
      { url: `${hook.url}/sessions`, eventTypes: ['session.*'] },
      { url: `${hook.url}/all`, eventTypes: ['*'] },
    );
    const connected = await publish(tenant, 'session.connected', { jid: '5511999999999@s.whatsapp.net', lid: '123456789@lid' });
    const received = await publish(tenant, 'message.received', messageData);

    await hook.waitFor(2, (req) => req.path === '/all');
    await hook.waitFor(1, (req) => req.path === '/messages');
    await acked(tenant, received);
    const idsAt = (path: string) => hook.requests.filter((req) => req.path === path).map((req) => req.headers['webhook-id']);
    expect(idsAt('/messages')).toEqual([received.id]);
    expect(idsAt('/sessions')).toEqual([connected.id]);
    expect(idsAt('/all')).toEqual([connected.id, received.id]);
  });

  it('retries an endpoint that fails until it answers 2xx, on the configured schedule', async () => {
    const hook = await receiver();
    let answered = 0;
    hook.respondWith(() => ({ status: ++answered <= 2 ? 500 : 200 }));
    const { tenant } = await tenantWith({ url: `${hook.url}/hook` });
    const event = await publish(tenant, 'message.received', messageData);

    await acked(tenant, event);
    const got = hook.requests.filter(forEvent(event));
    expect(got).toHaveLength(3);
    // The second wait of WEBHOOK_RETRY_DELAYS (200 ms) separates the second and third deliveries.
    expect((got[2]?.receivedAt ?? 0) - (got[1]?.receivedAt ?? 0)).toBeGreaterThanOrEqual(150);
    expect(await lastDlqRecord(tenant)).toBeUndefined();
  });

  it('does not resend to a healthy endpoint while retrying a failing one, then dead-letters with the attempt history', async () => {
    const hook = await receiver();
    hook.respondWith((req) => (req.path === '/broken' ? { status: 503, body: 'x'.repeat(4096) } : { status: 204 }));
    const { tenant, endpoints } = await tenantWith({ url: `${hook.url}/healthy` }, { url: `${hook.url}/broken` });
    const [healthy, broken] = endpoints;
    const event = await publish(tenant, 'message.received', messageData);

    const record = await eventually(async () => {
      const found = await lastDlqRecord(tenant);
      return found?.event_id === event.id ? found : undefined;
    }, 20_000, 'the dead-letter record');
    expect(hook.requests.filter((req) => req.path === '/healthy')).toHaveLength(1);
    expect(hook.requests.filter((req) => req.path === '/broken')).toHaveLength(3);

    expect(record).toMatchObject({ service: 'webhook-dispatch', reason: 'MAX_DELIVERIES', retryable: true, deliveries: 3 });
    expect(Buffer.from(record.payload_base64, 'base64').toString('utf8')).toBe(event.body);
    const history = record.attempts.map((attempt) => [attempt.delivery, attempt.detail?.['endpoint_id'], attempt.detail?.['status']]);
    expect(history).toEqual([
      [1, healthy?.id, 204],
      [1, broken?.id, 503],
      [2, broken?.id, 503],
      [3, broken?.id, 503],
    ]);
    for (const attempt of record.attempts.filter((a) => a.detail?.['endpoint_id'] === broken?.id)) {
      expect(attempt.error).toBe('HTTP 503');
      expect(attempt.detail?.['response_body']).toBe('x'.repeat(1024));
      expect(attempt.detail?.['latency_ms']).toEqual(expect.any(Number) as unknown);
    }
  });

  it('acks an event that no endpoint subscribed to', async () => {
    const hook = await receiver();
    const { tenant } = await tenantWith({ url: `${hook.url}/hook`, eventTypes: ['session.*'] });
    const event = await publish(tenant, 'message.received', messageData);

    await acked(tenant, event);
    expect(hook.requests).toHaveLength(0);
    expect(await lastDlqRecord(tenant)).toBeUndefined();
  });
});
