import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addEndpoint, createApiKey, getEndpoint, quoteIdent, tenantSchemaName, type AddEndpointInput, type Endpoint } from '@switchyard/db';
import { publishEvent } from '@switchyard/nats';
import { dlqRecordSchema, dlqSubject, durableName, eventsSubject, HEADERS, newEventId, STREAMS, type DlqRecord } from '@switchyard/schema';
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
      // Two short retries: three attempts in all, the last one 200 ms after the second. The
      // receivers listen on loopback, which the SSRF guard refuses unless allowed.
      env: { WEBHOOK_RETRY_DELAYS: '0s,200ms', WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', CB_MAX_FAILURES: '5', CB_COOLDOWN: '400ms', WEBHOOK_ENDPOINT_CACHE_TTL: '200ms', WEBHOOK_LOG_RETENTION_INTERVAL: '1s' },
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

  async function publish(tenant: string, type: string, data: Record<string, unknown>, at: { instance?: string; seq?: number } = {}): Promise<Published> {
    const id = newEventId();
    const instance = at.instance ?? 'phone-1';
    // `data` first: the order the schema would never produce, so a re-encoded body would show.
    const body = JSON.stringify({
      data,
      id,
      tenant,
      instance,
      type,
      schema_version: 1,
      occurred_at: '2026-11-23T10:00:00.000Z',
      captured_at: '2026-11-23T10:00:00.100Z',
      seq: at.seq ?? 1,
      source: 'baileys',
    });
    const ack = await publishEvent(h.js, eventsSubject(tenant, instance, type), new TextEncoder().encode(body), { msgId: id });
    return { id, seq: ack.seq, body };
  }

  async function delivery(tenant: string, endpointId: string, eventId: string): Promise<{ status: string; attempts: number } | undefined> {
    const result = await h.pool.query<{ status: string; attempts: number }>(
      `SELECT status, attempts FROM ${quoteIdent(tenantSchemaName(tenant))}.webhook_deliveries WHERE endpoint_id = $1 AND event_id = $2`,
      [endpointId, eventId],
    );
    return result.rows[0];
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

    // Events of an instance go out in order, so once `next` arrived, `event` is settled for good.
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
    await hook.waitFor(1, (req) => req.path === '/sessions');
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
    const { tenant, endpoints } = await tenantWith({ url: `${hook.url}/hook` });
    const event = await publish(tenant, 'message.received', messageData);

    // The fan-out acks once the delivery is stored; the delivery log says when it got through.
    await acked(tenant, event);
    await eventually(async () => ((await delivery(tenant, endpoints[0]?.id ?? '', event.id))?.status === 'delivered' ? true : undefined), 20_000, 'delivered');
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

    // The record names the delivery by its Nats-Msg-Id, `<event id>:<endpoint id>`.
    const record = await eventually(async () => {
      const found = await lastDlqRecord(tenant);
      return found?.event_id === `${event.id}:${broken?.id}` ? found : undefined;
    }, 20_000, 'the dead-letter record');
    expect(hook.requests.filter((req) => req.path === '/healthy')).toHaveLength(1);
    expect(hook.requests.filter((req) => req.path === '/broken')).toHaveLength(3);

    // Each (event, endpoint) pair is its own delivery now: the dead-letter is the broken
    // endpoint's alone, from its WEBHOOKS message (one JetStream delivery, retried in the handler),
    // and its history holds only its own attempts. The healthy endpoint was never involved.
    expect(record).toMatchObject({ service: 'webhook-dispatch', reason: 'MAX_DELIVERIES', retryable: true, source_stream: 'WEBHOOKS', source_subject: `v1.webhooks.${tenant}.${broken?.id}.phone-1` });
    expect(Buffer.from(record.payload_base64, 'base64').toString('utf8')).toBe(event.body);
    const history = record.attempts.map((attempt) => [attempt.delivery, attempt.detail?.['endpoint_id'], attempt.detail?.['status']]);
    expect(history).toEqual([
      [1, broken?.id, 503],
      [2, broken?.id, 503],
      [3, broken?.id, 503],
    ]);
    expect((await delivery(tenant, healthy?.id ?? '', event.id))?.status).toBe('delivered');
    for (const attempt of record.attempts.filter((a) => a.detail?.['endpoint_id'] === broken?.id)) {
      expect(attempt.error).toBe('HTTP 503');
      expect(attempt.detail?.['response_body']).toBe('x'.repeat(1024));
      expect(attempt.detail?.['latency_ms']).toEqual(expect.any(Number) as unknown);
    }
  });

  it('prunes the delivery log of deliveries that ended longer ago than WEBHOOK_LOG_RETENTION', async () => {
    const { tenant } = await tenantWith();
    const schema = quoteIdent(tenantSchemaName(tenant));
    for (const [event, status, age] of [['ended-long-ago', 'delivered', '40 days'], ['ended-lately', 'exhausted', '1 day'], ['still-retrying', 'retrying', '40 days']] as const) {
      await h.pool.query(
        `INSERT INTO ${schema}.webhook_deliveries (endpoint_id, event_id, event_type, instance, seq, stream_seq, status, updated_at)
         VALUES ('ep-x', $1, 'message.received', 'phone-1', 1, 1, $2, now() - $3::interval)`,
        [event, status, age],
      );
    }
    await eventually(async () => ((await delivery(tenant, 'ep-x', 'ended-long-ago')) === undefined ? true : undefined), 20_000, 'the old delivery to be pruned');
    expect(await delivery(tenant, 'ep-x', 'ended-lately')).toMatchObject({ status: 'exhausted' });
    expect(await delivery(tenant, 'ep-x', 'still-retrying')).toMatchObject({ status: 'retrying' });
  });

  it('acks an event that no endpoint subscribed to', async () => {
    const hook = await receiver();
    const { tenant } = await tenantWith({ url: `${hook.url}/hook`, eventTypes: ['session.*'] });
    const event = await publish(tenant, 'message.received', messageData);

    await acked(tenant, event);
    expect(hook.requests).toHaveLength(0);
    expect(await lastDlqRecord(tenant)).toBeUndefined();
  });

  async function api(tenant: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: { data?: Record<string, unknown>; error?: { code: string } } }> {
    const { key } = await createApiKey(h.pool, { tenant, role: 'admin' });
    const response = await fetch(`${h.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, json: (await response.json()) as { data?: Record<string, unknown>; error?: { code: string } } };
  }

  const signedHeaders = (request: ReceivedRequest | undefined) => ({
    'webhook-id': String(request?.headers['webhook-id']),
    'webhook-timestamp': String(request?.headers['webhook-timestamp']),
    'webhook-signature': String(request?.headers['webhook-signature']),
  });

  it('signs with both secrets while a rotation overlaps, then with the new one only', async () => {
    const hook = await receiver();
    const tenant = await h.addTenant();
    const created = await api(tenant, 'POST', '/api/webhooks/endpoints', { url: `${hook.url}/hook`, event_types: ['message.*'] });
    expect(created.status).toBe(201);
    const id = String(created.json.data?.['id']);
    const oldSecret = String(created.json.data?.['secret']);
    expect(oldSecret).toMatch(/^whsec_/);
    expect((await api(tenant, 'GET', `/api/webhooks/endpoints/${id}`)).json.data).not.toHaveProperty('secret');

    const rotated = await api(tenant, 'POST', `/api/webhooks/endpoints/${id}/rotate-secret`, { overlap_seconds: 3600 });
    const newSecret = String(rotated.json.data?.['secret']);
    expect(newSecret).not.toBe(oldSecret);
    const during = await publish(tenant, 'message.received', messageData);
    const [overlapping] = await hook.waitFor(1, forEvent(during));
    expect(String(overlapping?.headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const secret of [oldSecret, newSecret]) {
      expect(new Webhook(secret).verify(overlapping?.body ?? '', signedHeaders(overlapping))).toEqual(JSON.parse(during.body));
    }

    const final = await api(tenant, 'POST', `/api/webhooks/endpoints/${id}/rotate-secret`, { overlap_seconds: 0 });
    const latest = String(final.json.data?.['secret']);
    const after = await publish(tenant, 'message.received', { ...messageData, message_id: 'AFTER' }, { seq: 2 });
    const [single] = await hook.waitFor(1, forEvent(after));
    expect(String(single?.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(new Webhook(latest).verify(single?.body ?? '', signedHeaders(single))).toEqual(JSON.parse(after.body));
    expect(() => new Webhook(newSecret).verify(single?.body ?? '', signedHeaders(single))).toThrow();
  });

  it('disables an endpoint that answers 410 and keeps the delivery for when it is enabled again', async () => {
    const hook = await receiver();
    let gone = true;
    hook.respondWith(() => ({ status: gone ? 410 : 200 }));
    const { tenant, endpoints } = await tenantWith({ url: `${hook.url}/hook` });
    const id = endpoints[0]?.id ?? '';
    const event = await publish(tenant, 'message.received', messageData);

    const disabled = await eventually(async () => {
      const endpoint = await getEndpoint(h.pool, tenant, id);
      return endpoint?.enabled === false ? endpoint : undefined;
    }, 20_000, 'the endpoint disabled');
    expect(disabled.disabledReason).toContain('410');
    expect(hook.requests.filter(forEvent(event))).toHaveLength(1);

    gone = false;
    expect((await api(tenant, 'POST', `/api/webhooks/endpoints/${id}/enable`)).status).toBe(200);
    await eventually(async () => ((await delivery(tenant, id, event.id))?.status === 'delivered' ? true : undefined), 20_000, 'delivered after re-enabling');
    expect(hook.requests.filter(forEvent(event)).map(() => 1)).toHaveLength(2);
  });

  it('waits what Retry-After asks on 429 and 503 instead of the schedule', async () => {
    const hook = await receiver();
    let answered = 0;
    hook.respondWith(() => (++answered === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }));
    // The endpoint's own schedule retries at once: only Retry-After can explain a 1 s gap.
    const { tenant } = await tenantWith({ url: `${hook.url}/hook`, retryDelaysMs: [0, 0] });
    const event = await publish(tenant, 'message.received', messageData);
    const got = await hook.waitFor(2, forEvent(event));
    expect((got[1]?.receivedAt ?? 0) - (got[0]?.receivedAt ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it('opens the circuit after repeated failures, probes after the cooldown and closes on success', async () => {
    const hook = await receiver();
    let answered = 0;
    hook.respondWith(() => ({ status: ++answered <= 5 ? 500 : 200 }));
    const { tenant, endpoints } = await tenantWith({ url: `${hook.url}/hook`, retryDelaysMs: [0, 0, 0, 0, 0, 0, 0, 0] });
    const id = endpoints[0]?.id ?? '';
    const event = await publish(tenant, 'message.received', messageData);
    await eventually(async () => ((await delivery(tenant, id, event.id))?.status === 'delivered' ? true : undefined), 20_000, 'delivered');

    const got = hook.requests.filter(forEvent(event));
    // Five failures open it (CB_MAX_FAILURES); the sixth request is the half-open probe, sent only
    // once the cooldown (400 ms) passed, although the schedule asked for no wait at all.
    expect(got).toHaveLength(6);
    expect((got[5]?.receivedAt ?? 0) - (got[4]?.receivedAt ?? 0)).toBeGreaterThanOrEqual(350);
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    const sample = (name: string, labels: string) =>
      metrics.split('\n').find((line) => line.startsWith(`${name}{`) && line.includes(`tenant="${tenant}"`) && line.includes(`endpoint="${id}"`) && line.includes(labels))?.split(' ').at(-1);
    expect([
      sample('circuit_breaker_transitions_total', 'from="closed",to="open"'),
      sample('circuit_breaker_transitions_total', 'from="open",to="half-open"'),
      sample('circuit_breaker_transitions_total', 'from="half-open",to="closed"'),
    ]).toEqual(['1', '1', '1']);
    expect(sample('circuit_breaker_state', '')).toBe('0');
  });

  it('keeps delivering to a healthy endpoint while another hangs for its whole timeout', async () => {
    const hook = await receiver();
    hook.respondWith((req) => (req.path === '/hanging' ? { status: 200, delayMs: 10_000 } : { status: 204 }));
    const { tenant } = await tenantWith(
      { url: `${hook.url}/hanging`, timeoutMs: 8_000, maxConcurrency: 1 },
      { url: `${hook.url}/healthy` },
    );
    const events: Published[] = [];
    for (let seq = 1; seq <= 5; seq++) events.push(await publish(tenant, 'message.received', { ...messageData, message_id: `M${seq}` }, { seq }));

    await hook.waitFor(5, (req) => req.path === '/healthy');
    // Every healthy delivery went out while the hanging endpoint still held its first request.
    expect(hook.requests.filter((req) => req.path === '/hanging')).toHaveLength(1);
    expect(hook.requests.filter((req) => req.path === '/healthy').map((req) => req.headers['webhook-id'])).toEqual(events.map((e) => e.id));
  });

  it('keeps each instance in seq order at an endpoint while failures hold back only that instance', async () => {
    const hook = await receiver();
    const tries = new Map<string, number>();
    // Odd seqs fail twice before they succeed; even ones go through at once.
    hook.respondWith((req) => {
      const id = String(req.headers['webhook-id']);
      const n = (tries.get(id) ?? 0) + 1;
      tries.set(id, n);
      const seq = (JSON.parse(req.body) as { seq: number }).seq;
      return { status: seq % 2 === 1 && n <= 2 ? 500 : 200 };
    });
    const { tenant } = await tenantWith({ url: `${hook.url}/hook`, retryDelaysMs: [50, 50, 50] });
    const published: Published[] = [];
    for (let seq = 1; seq <= 6; seq++) {
      for (const instance of ['phone-1', 'phone-2']) published.push(await publish(tenant, 'message.received', { ...messageData, message_id: `${instance}-${seq}` }, { instance, seq }));
    }
    // 12 events, the 6 odd ones tried three times: 24 requests.
    await hook.waitFor(24, undefined, 20_000);
    expect(published.every((p) => (tries.get(p.id) ?? 0) >= 1)).toBe(true);

    for (const instance of ['phone-1', 'phone-2']) {
      const seen = hook.requests
        .map((req) => JSON.parse(req.body) as { seq: number; instance: string })
        .filter((body) => body.instance === instance)
        .map((body) => body.seq);
      // Each seq shows up (retries included) only after every earlier seq is done with.
      expect(seen).toEqual([1, 1, 1, 2, 3, 3, 3, 4, 5, 5, 5, 6]);
    }
  });

  it('refuses private, loopback and link-local endpoints unless allowed, at registration and at delivery', async () => {
    const tenant = await h.addTenant();
    for (const url of ['http://169.254.169.254/latest/meta-data', 'http://10.1.2.3/hook', 'http://[::1]:8080/hook']) {
      const refused = await api(tenant, 'POST', '/api/webhooks/endpoints', { url });
      expect(refused.status).toBe(422);
      expect(refused.json.error?.code).toBe('URL_REFUSED');
    }
    // Registered around the API (as a stale row would be): refused again before any connection.
    const endpoint = await addEndpoint(h.pool, tenant, { url: 'http://169.254.169.254/latest/meta-data', retryDelaysMs: [] });
    const event = await publish(tenant, 'message.received', messageData);
    const record = await eventually(async () => {
      const found = await lastDlqRecord(tenant);
      return found?.event_id === `${event.id}:${endpoint.id}` ? found : undefined;
    }, 20_000, 'the dead-letter record');
    expect(record.attempts.map((a) => [a.detail?.['endpoint_id'], a.detail?.['outcome']])).toEqual([[endpoint.id, 'refused']]);
    expect(record.error).toContain('169.254.169.254');
  });

  it('shows the delivery log and re-sends what failed since a given time', async () => {
    const hook = await receiver();
    let failing = true;
    hook.respondWith(() => ({ status: failing ? 500 : 200 }));
    const { tenant, endpoints } = await tenantWith({ url: `${hook.url}/hook`, retryDelaysMs: [0] });
    const id = endpoints[0]?.id ?? '';
    const since = new Date().toISOString();
    const event = await publish(tenant, 'message.received', messageData);
    await eventually(async () => ((await delivery(tenant, id, event.id))?.status === 'exhausted' ? true : undefined), 20_000, 'exhausted');

    const detail = await api(tenant, 'GET', `/api/webhooks/endpoints/${id}/deliveries/${event.id}`);
    expect(detail.json.data).toMatchObject({ status: 'exhausted', attempts: 2, last_status: 500 });
    expect((detail.json.data?.['attempt_history'] as unknown[]).length).toBe(2);
    const list = await api(tenant, 'GET', `/api/webhooks/endpoints/${id}/deliveries?status=exhausted`);
    expect((list.json.data?.['deliveries'] as { event_id: string }[]).map((d) => d.event_id)).toEqual([event.id]);

    failing = false;
    const resent = await api(tenant, 'POST', `/api/webhooks/endpoints/${id}/resend-failed`, { since });
    expect(resent.json.data).toEqual({ resent: 1, skipped_expired: 0 });
    await eventually(async () => ((await delivery(tenant, id, event.id))?.status === 'delivered' ? true : undefined), 20_000, 'delivered after re-send');
    expect(hook.requests.filter(forEvent(event)).at(-1)?.body).toBe(event.body);
  });

  it('delivers a replayed event again (same webhook-id), while a plain redelivery of it is not re-sent', async () => {
    const hook = await receiver();
    const { tenant } = await tenantWith({ url: `${hook.url}/hook` });
    const event = await publish(tenant, 'message.received', messageData);
    await hook.waitFor(1, forEvent(event));

    // The same event again under another Nats-Msg-Id but no replay header: a duplicate, not re-sent.
    const subject = eventsSubject(tenant, 'phone-1', 'message.received');
    await publishEvent(h.js, subject, new TextEncoder().encode(event.body), { msgId: `${event.id}:dup` });
    // As persistence's replay API publishes it: the replay header and its own Nats-Msg-Id.
    const replayed = await publishEvent(h.js, subject, new TextEncoder().encode(event.body), {
      msgId: `${event.id}:replay:r1`,
      headers: { [HEADERS.replay]: 'r1' },
    });
    await hook.waitFor(2, forEvent(event));
    await acked(tenant, { ...event, seq: replayed.seq });
    const got = hook.requests.filter(forEvent(event));
    expect(got).toHaveLength(2);
    expect(got.map((r) => r.body)).toEqual([event.body, event.body]);
  });
});
