import { Registry } from 'prom-client';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureStreams, type InboundMessage } from '@switchyard/nats';
import { ingestSubject, STREAMS } from '@switchyard/schema';
import { decodeJson, messageReceivedEvent, randomTenantId, readStream, startNatsServer, testLogger, type NatsServer } from '@switchyard/testing';
import { routerMetrics } from './metrics.ts';
import { routeIngestBatch } from './route-ingest.ts';

const encoder = new TextEncoder();

// A batch of ATOMIC_BATCH_MIN_MESSAGES or more goes to EVENTS as atomic batches; that needs
// nats-server 2.12+, so this runs its own server.
describe('routeIngestBatch with a backlog (atomic EVENTS batches)', () => {
  let nats: NatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    await ensureStreams(await nc.jetstreamManager());
  });

  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  function setup(atomicMinMessages?: number) {
    const tenant = randomTenantId();
    const metrics = routerMetrics(new Registry());
    const handler = routeIngestBatch({ js: nc.jetstream(), nc, logger: testLogger('router'), metrics, maxPayloadBytes: 1024 * 1024, maxDeliver: 10, ...(atomicMinMessages !== undefined ? { atomicMinMessages } : {}) });
    // 2 instances × 50 events, interleaved.
    const messages: InboundMessage[] = [];
    for (let seq = 1; seq <= 50; seq++) {
      for (const instance of ['phone-1', 'phone-2']) {
        const event = messageReceivedEvent(tenant, instance, seq);
        messages.push({ subject: ingestSubject(tenant, instance, 'message.received'), data: encoder.encode(JSON.stringify(event)), headers: {}, eventId: event.id, deliveryCount: 1, streamSeq: messages.length + 1, storedAtMs: Date.now(), tenant });
      }
    }
    const total = async (metric: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> => (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);
    const routed = async (instance: string): Promise<number[]> =>
      decodeJson<{ seq: number }>(await readStream(nc, STREAMS.events, `v1.events.${tenant}.${instance}.>`, 50)).map((e) => e.seq);
    return { tenant, handler, messages, metrics, total, routed };
  }

  const oneToFifty = Array.from({ length: 50 }, (_, i) => i + 1);

  it('routes the whole batch as one atomic batch: every event once, in order per instance', async () => {
    const { tenant, handler, messages, metrics, total, routed } = setup();
    const outcomes = await handler(messages);
    expect(outcomes.map((o) => o.kind)).toEqual(messages.map(() => 'ack'));
    expect(await total(metrics.atomicFallbacks)).toBe(0);
    expect(await total(metrics.routed)).toBe(100);
    expect(await routed('phone-1')).toEqual(oneToFifty);
    expect(await routed('phone-2')).toEqual(oneToFifty);
    const last = await (await nc.jetstreamManager()).streams.getMessage(STREAMS.events, { last_by_subj: `v1.events.${tenant}.phone-2.message.received` });
    expect(last.header.get('Nats-Batch-Commit')).toBe('1');
  });

  it('publishes a batch smaller than atomicMinMessages one by one (a tenant without a backlog)', async () => {
    const { tenant, handler, messages, metrics, total, routed } = setup(256);
    const outcomes = await handler(messages);
    expect(outcomes.map((o) => o.kind)).toEqual(messages.map(() => 'ack'));
    expect(await total(metrics.routed)).toBe(100);
    expect(await routed('phone-1')).toEqual(oneToFifty);
    const last = await (await nc.jetstreamManager()).streams.getMessage(STREAMS.events, { last_by_subj: `v1.events.${tenant}.phone-2.message.received` });
    expect(last.header?.get('Nats-Batch-Id') ?? '').toBe('');
  });

  it('falls back to one by one when the batch holds an event EVENTS already has, storing nothing twice', async () => {
    const { handler, messages, metrics, total, routed } = setup();
    // The first 10 were routed before a crash left them unacked on INGEST.
    expect((await handler(messages.slice(0, 10))).every((o) => o.kind === 'ack')).toBe(true);
    const outcomes = await handler(messages);
    expect(outcomes.map((o) => o.kind)).toEqual(messages.map(() => 'ack'));
    expect(await total(metrics.atomicFallbacks)).toBe(1);
    expect(await routed('phone-1')).toEqual(oneToFifty);
    expect(await routed('phone-2')).toEqual(oneToFifty);
  });
});
