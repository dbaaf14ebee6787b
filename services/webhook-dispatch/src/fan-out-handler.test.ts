import { Registry } from 'prom-client';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Endpoint } from '@switchyard/db';
import { DEFAULT_RETRY_BACKOFF_MS, ensureStream, WEBHOOKS_STREAM, webhooksStreamConfig, type InboundMessage } from '@switchyard/nats';
import { eventsSubject, newEventId } from '@switchyard/schema';
import { decodeJson, randomName, readStream, startNatsServer, testLogger, type NatsServer } from '@switchyard/testing';
import { EndpointCache } from './endpoint-cache.ts';
import type { EndpointWorkers } from './endpoint-workers.ts';
import { fanOut } from './fan-out.ts';
import { webhookMetrics } from './metrics.ts';

// The server refuses messages above this; the client knows it and refuses to send them.
const MAX_PAYLOAD = 4_096;

describe('fanOut (the batch handler)', () => {
  let nats: NatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNatsServer({ config: `max_payload: ${MAX_PAYLOAD}\n` });
    nc = await connect({ servers: nats.url });
    await ensureStream(await nc.jetstreamManager(), webhooksStreamConfig());
  });

  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it('dead-letters an event too large to ever publish, and its instance goes on in order', async () => {
    const tenant = randomName('fo').replace(/[^a-z0-9_-]/g, '');
    const at = new Date();
    const endpoint: Endpoint = {
      id: 'ep_1', tenant, url: 'http://127.0.0.1/hook', eventTypes: ['*'], enabled: true, secret: 'whsec_x', headers: {}, timeoutMs: 5_000,
      retryDelaysMs: null, maxConcurrency: null, rateLimitPerSecond: null, previousSecret: null, previousSecretExpiresAt: null, disabledReason: null,
      createdAt: at, updatedAt: at,
    };
    // Every endpoint has a worker already: nothing to reconcile.
    const workers = { has: () => true, reconcile: () => Promise.resolve() } as unknown as EndpointWorkers;
    const handler = fanOut({
      js: nc.jetstream(),
      endpoints: new EndpointCache({ ttlMs: 60_000, load: () => Promise.resolve([endpoint]) }),
      workers,
      metrics: webhookMetrics(new Registry()),
      logger: testLogger('webhook-dispatch'),
      maxDeliver: 100,
      retryBackoffMs: [...DEFAULT_RETRY_BACKOFF_MS],
    });
    let streamSeq = 0;
    const message = (instance: string, seq: number, text: string): InboundMessage => {
      const id = newEventId();
      const body = { id, tenant, instance, type: 'message.received', schema_version: 1, occurred_at: at.toISOString(), captured_at: at.toISOString(), seq, source: 'baileys', data: { message_id: `${instance}-${seq}`, chat_jid: '5511999999999@s.whatsapp.net', from_me: false, timestamp: at.toISOString(), message_type: 'conversation', text } };
      return { subject: eventsSubject(tenant, instance, 'message.received'), data: new TextEncoder().encode(JSON.stringify(body)), headers: {}, eventId: id, deliveryCount: 1, streamSeq: ++streamSeq, storedAtMs: Date.now(), tenant };
    };
    const batch = [message('phone-1', 1, 'a'), message('phone-1', 2, 'x'.repeat(MAX_PAYLOAD)), message('phone-2', 1, 'b'), message('phone-1', 3, 'c')];

    const outcomes = await handler(batch);
    expect(outcomes.map((o) => (o.kind === 'dead-letter' ? o.reason : o.kind))).toEqual(['ack', 'PAYLOAD_TOO_LARGE', 'ack', 'ack']);
    const stored = decodeJson<{ instance: string; seq: number }>(await readStream(nc, WEBHOOKS_STREAM, `v1.webhooks.${tenant}.>`, 3));
    expect(stored.filter((e) => e.instance === 'phone-1').map((e) => e.seq)).toEqual([1, 3]);
    expect(stored.filter((e) => e.instance === 'phone-2').map((e) => e.seq)).toEqual([1]);
  });
});

describe('fanOut of a large batch (atomic WEBHOOKS batches)', () => {
  let nats: NatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    await ensureStream(await nc.jetstreamManager(), webhooksStreamConfig());
  });

  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  function setup() {
    const tenant = randomName('fa').replace(/[^a-z0-9_-]/g, '');
    const at = new Date();
    const endpoint = (id: string): Endpoint => ({
      id, tenant, url: 'http://127.0.0.1/hook', eventTypes: ['*'], enabled: true, secret: 'whsec_x', headers: {}, timeoutMs: 5_000,
      retryDelaysMs: null, maxConcurrency: null, rateLimitPerSecond: null, previousSecret: null, previousSecretExpiresAt: null, disabledReason: null,
      createdAt: at, updatedAt: at,
    });
    const registry = new Registry();
    const metrics = webhookMetrics(registry);
    const handler = fanOut({
      js: nc.jetstream(),
      nc,
      endpoints: new EndpointCache({ ttlMs: 60_000, load: () => Promise.resolve([endpoint('ep_1'), endpoint('ep_2')]) }),
      workers: { has: () => true, reconcile: () => Promise.resolve() } as unknown as EndpointWorkers,
      metrics,
      logger: testLogger('webhook-dispatch'),
      maxDeliver: 100,
      retryBackoffMs: [...DEFAULT_RETRY_BACKOFF_MS],
    });
    // 3 instances × 40 events, interleaved as a busy tenant's EVENTS would be.
    const events: InboundMessage[] = [];
    for (let seq = 1; seq <= 40; seq++) {
      for (const instance of ['phone-1', 'phone-2', 'phone-3']) {
        const id = newEventId();
        const body = { id, tenant, instance, type: 'message.received', schema_version: 1, occurred_at: at.toISOString(), captured_at: at.toISOString(), seq, source: 'baileys', data: { message_id: `${instance}-${seq}`, chat_jid: '5511999999999@s.whatsapp.net', from_me: false, timestamp: at.toISOString(), message_type: 'conversation', text: `${instance} ${seq}` } };
        events.push({ subject: eventsSubject(tenant, instance, 'message.received'), data: new TextEncoder().encode(JSON.stringify(body)), headers: {}, eventId: id, deliveryCount: 1, streamSeq: events.length + 1, storedAtMs: Date.now(), tenant });
      }
    }
    const fallbacks = async (): Promise<number> => (await metrics.atomicFallbacks.get()).values.reduce((sum, v) => sum + v.value, 0);
    /** Each endpoint's deliveries as stored, per instance, in stream order. */
    const stored = async (endpointId: string, expected: number): Promise<Record<string, number[]>> => {
      const read = decodeJson<{ instance: string; seq: number }>(await readStream(nc, WEBHOOKS_STREAM, `v1.webhooks.${tenant}.${endpointId}.>`, expected));
      const byInstance: Record<string, number[]> = {};
      for (const { instance, seq } of read) (byInstance[instance] ??= []).push(seq);
      return byInstance;
    };
    return { tenant, handler, events, fallbacks, stored };
  }

  const oneToForty = Array.from({ length: 40 }, (_, i) => i + 1);

  it('stores every delivery of the batch once, each instance in order at each endpoint, without falling back', async () => {
    const { tenant, handler, events, fallbacks, stored } = setup();
    const outcomes = await handler(events);
    expect(outcomes.every((o) => o.kind === 'ack')).toBe(true);
    expect(await fallbacks()).toBe(0);
    // Stored as an atomic batch: the server keeps the batch headers on what it stored.
    const jsm = await nc.jetstreamManager();
    const first = await jsm.streams.getMessage(WEBHOOKS_STREAM, { last_by_subj: `v1.webhooks.${tenant}.ep_1.phone-1` });
    expect(first.header.get('Nats-Batch-Id')).not.toBe('');
    for (const endpointId of ['ep_1', 'ep_2']) {
      expect(await stored(endpointId, 120)).toEqual({ 'phone-1': oneToForty, 'phone-2': oneToForty, 'phone-3': oneToForty });
    }
  });

  it('falls back to one by one for a redelivered batch that was partly stored, and stores nothing twice', async () => {
    const { handler, events, fallbacks, stored } = setup();
    // The first 90 events were fanned out before a crash; the whole batch comes again, with 30 more.
    expect((await handler(events.slice(0, 90))).every((o) => o.kind === 'ack')).toBe(true);
    expect(await fallbacks()).toBe(0);
    const outcomes = await handler(events.map((m) => (events.indexOf(m) < 90 ? { ...m, deliveryCount: 2 } : m)));
    expect(outcomes.every((o) => o.kind === 'ack')).toBe(true);
    expect(await fallbacks()).toBe(1);
    for (const endpointId of ['ep_1', 'ep_2']) {
      expect(await stored(endpointId, 120)).toEqual({ 'phone-1': oneToForty, 'phone-2': oneToForty, 'phone-3': oneToForty });
    }
  });
});
