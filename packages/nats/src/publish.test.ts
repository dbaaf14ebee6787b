import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { context, propagation, trace, TraceFlags } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startConsumer } from './consume.ts';
import { ensureDurableConsumer } from './consumers.ts';
import { ack } from './outcome.ts';
import { extractTraceContext, publishEvent } from './publish.ts';
import { encode, randomTenant, readStream, streamMessages, testLogger, testNats, waitFor, type TestNats } from './test-support.ts';

describe('publishEvent', () => {
  let t: TestNats | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('stores a msgId once and reports the second publish as a duplicate', async () => {
    t = await testNats();
    const subject = t.ingestSubject(randomTenant());
    const first = await publishEvent(t.js, subject, encode('a'), { msgId: 'evt-1', expectStream: t.streams.ingest.name });
    const second = await publishEvent(t.js, subject, encode('a'), { msgId: 'evt-1' });
    expect(first).toMatchObject({ stream: t.streams.ingest.name, duplicate: false });
    expect(second).toEqual({ stream: t.streams.ingest.name, seq: first.seq, duplicate: true });
    expect(await streamMessages(t.jsm, t.streams.ingest.name)).toBe(1);
    const [stored] = await readStream(t.jsm, t.streams.ingest.name);
    expect(stored?.header.get('Nats-Msg-Id')).toBe('evt-1');
  });

  it('rejects a publish that would land in another stream than expected', async () => {
    t = await testNats();
    await expect(
      publishEvent(t.js, t.ingestSubject(randomTenant()), encode('a'), { msgId: 'x', expectStream: t.streams.events.name }),
    ).rejects.toThrow();
  });
});

describe('trace context', () => {
  const contextManager = new AsyncLocalStorageContextManager();
  let t: TestNats | undefined;
  beforeAll(() => {
    contextManager.enable();
    context.setGlobalContextManager(contextManager);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  });
  afterAll(() => {
    propagation.disable();
    context.disable();
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('travels in the headers and the handler runs inside it', async () => {
    const n = await testNats();
    t = n;
    const tenant = randomTenant();
    const parent = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED };
    await context.with(trace.setSpanContext(context.active(), parent), () =>
      publishEvent(n.js, n.ingestSubject(tenant), encode('traced'), { msgId: 'trace-1' }),
    );
    const [stored] = await readStream(t.jsm, t.streams.ingest.name);
    expect(stored?.header.get('traceparent')).toBe(`00-${parent.traceId}-${parent.spanId}-01`);
    const carried = { traceparent: [stored?.header.get('traceparent') ?? ''] };
    expect(trace.getSpanContext(extractTraceContext(carried))?.traceId).toBe(parent.traceId);

    const durable = `c_${tenant}`;
    await ensureDurableConsumer(t.jsm, { stream: t.streams.ingest.name, durable, filterSubject: t.ingestFilter(tenant) });
    const seen: (string | undefined)[] = [];
    const consumer = startConsumer({
      js: t.js,
      stream: t.streams.ingest.name,
      durable,
      tenant,
      service: 'router',
      logger: testLogger,
      registry: t.registry,
      handler: async () => {
        seen.push(trace.getSpanContext(context.active())?.traceId);
        return ack();
      },
    });
    await waitFor(() => seen.length === 1, 15_000, 'handler');
    await consumer.stop();
    expect(seen[0]).toBe(parent.traceId);
  });
});
