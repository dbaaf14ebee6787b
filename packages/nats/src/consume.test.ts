import { dlqRecordSchema, type DlqRecord } from '@switchyard/schema';
import { afterEach, describe, expect, it } from 'vitest';
import { startConsumer, type RunningConsumer, type StartConsumerOptions } from './consume.ts';
import { ensureDurableConsumer } from './consumers.ts';
import { dlqMsgId } from './dlq.ts';
import { ensureStream } from './streams.ts';
import { ack, deadLetter, retry, type Handler, type InboundMessage } from './outcome.ts';
import { publishEvent } from './publish.ts';
import {
  decode,
  deferred,
  encode,
  randomTenant,
  readStream,
  startNatsServer,
  stopWhileAttaching,
  streamMessages,
  testLogger,
  testNats,
  waitFor,
  type NatsServer,
  type TestNats,
} from './test-support.ts';

class PoisonError extends Error {
  override name = 'PoisonError';
  readonly nonRetryable = true;
}

describe('startConsumer', () => {
  let t: TestNats | undefined;
  let server: NatsServer | undefined;
  const running: RunningConsumer[] = [];

  afterEach(async () => {
    server?.resume();
    await Promise.all(running.splice(0).map((c) => c.stop()));
    await t?.close();
    t = undefined;
    await server?.stop();
    server = undefined;
  });

  /** On the shared server, or with `privateServer` on one of its own the test may stall. */
  async function setup(options: { ackWaitMs?: number; privateServer?: boolean } = {}): Promise<{ n: TestNats; tenant: string; durable: string; publish: (i: number | string, msgId?: string) => Promise<number> }> {
    if (options.privateServer === true) server = await startNatsServer();
    const n = await testNats(server?.url);
    t = n;
    const tenant = randomTenant();
    const durable = `router_${tenant}`;
    await ensureDurableConsumer(n.jsm, { stream: n.streams.ingest.name, durable, filterSubject: n.ingestFilter(tenant), ackWaitMs: options.ackWaitMs ?? 5_000 });
    return {
      n,
      tenant,
      durable,
      publish: async (i, msgId) => (await publishEvent(n.js, n.ingestSubject(tenant), encode(String(i)), { msgId: msgId ?? `evt-${i}` })).seq,
    };
  }

  function start(n: TestNats, tenant: string, durable: string, handler: Handler, extra: Partial<StartConsumerOptions> = {}): RunningConsumer {
    const consumer = startConsumer({
      js: n.js,
      stream: n.streams.ingest.name,
      durable,
      tenant,
      service: 'router',
      logger: testLogger,
      registry: n.registry,
      retryBackoffMs: [20],
      dlqSubject: n.dlqSubject(tenant),
      handler,
      ...extra,
    });
    running.push(consumer);
    return consumer;
  }

  async function settled(n: TestNats, durable: string): Promise<void> {
    await waitFor(async () => {
      const info = await n.jsm.consumers.info(n.streams.ingest.name, durable);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    }, 15_000, 'consumer to settle every message');
  }

  async function dlqRecords(n: TestNats, count: number): Promise<{ record: DlqRecord; msgId: string | undefined }[]> {
    await waitFor(async () => (await streamMessages(n.jsm, n.streams.dlq.name)) >= count, 15_000, 'DLQ records');
    return (await readStream(n.jsm, n.streams.dlq.name)).map((m) => ({
      record: dlqRecordSchema.parse(JSON.parse(decode(m.data))),
      msgId: m.header.get('Nats-Msg-Id'),
    }));
  }

  it('acks handled messages and passes the event id and delivery count', async () => {
    const { n, tenant, durable, publish } = await setup();
    const seen: InboundMessage[] = [];
    start(n, tenant, durable, async (msg) => {
      seen.push(msg);
      return ack();
    });
    const publishedAt = Date.now();
    await publish(1);
    await settled(n, durable);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ eventId: 'evt-1', deliveryCount: 1, tenant, subject: n.ingestSubject(tenant) });
    // The server's clock is this machine's: the store time lies within the publish round trip.
    expect(seen[0]!.storedAtMs).toBeGreaterThanOrEqual(publishedAt - 5);
    expect(seen[0]!.storedAtMs).toBeLessThanOrEqual(Date.now());
    expect(decode(seen[0]!.data)).toBe('1');
    const metrics = await n.registry.getSingleMetricAsString('events_consumed_total');
    expect(metrics).toContain(`events_consumed_total{service="router",tenant="${tenant}",outcome="ack"} 1`);
  });

  it('stops at once when stopped while attaching, handling nothing, and leaves every message to the next reader', async () => {
    const { n, tenant, durable, publish } = await setup();
    for (let i = 0; i < 5; i++) await publish(i);
    const handled: string[] = [];
    const handler: Handler = async (msg) => {
      handled.push(decode(msg.data));
      return ack();
    };
    await stopWhileAttaching(start(n, tenant, durable, handler));
    expect(handled).toEqual([]);
    start(n, tenant, durable, handler);
    await settled(n, durable);
    expect([...handled].sort()).toEqual(['0', '1', '2', '3', '4']);
  });

  it('redelivers after a retry and succeeds on the second delivery', async () => {
    const { n, tenant, durable, publish } = await setup();
    const deliveries: number[] = [];
    start(n, tenant, durable, async (msg) => {
      deliveries.push(msg.deliveryCount);
      return msg.deliveryCount === 1 ? retry('not yet', 10) : ack();
    });
    await publish(1);
    await settled(n, durable);
    await waitFor(() => deliveries.length === 2);
    expect(deliveries).toEqual([1, 2]);
    expect(await streamMessages(n.jsm, n.streams.dlq.name)).toBe(0);
  });

  it('dead-letters with MAX_DELIVERIES after the last allowed delivery, keeping the raw payload', async () => {
    const { n, tenant, durable } = await setup();
    const payload = new Uint8Array([0, 159, 146, 150, 255, 10]);
    const { seq } = await publishEvent(n.js, n.ingestSubject(tenant), payload, { msgId: 'evt-bin', headers: { 'x-test': 'yes' } });
    const deliveries: number[] = [];
    start(n, tenant, durable, async (msg) => {
      deliveries.push(msg.deliveryCount);
      return retry(`still failing ${msg.deliveryCount}`);
    }, { maxDeliver: 3 });
    const [entry] = await dlqRecords(n, 1);
    await settled(n, durable);
    expect(deliveries).toEqual([1, 2, 3]);
    const record = entry!.record;
    expect(Buffer.from(record.payload_base64, 'base64')).toEqual(Buffer.from(payload));
    expect(record).toMatchObject({
      reason: 'MAX_DELIVERIES',
      retryable: true,
      deliveries: 3,
      tenant,
      service: 'router',
      source_stream: n.streams.ingest.name,
      source_subject: n.ingestSubject(tenant),
      source_seq: seq,
      consumer: durable,
      event_id: 'evt-bin',
      error: 'still failing 3',
    });
    expect(record.headers['x-test']).toEqual(['yes']);
    expect(record.attempts).toHaveLength(1);
    expect(entry!.msgId).toBe(`dlq:${n.streams.ingest.name}:${seq}:${durable}`);
    expect(entry!.msgId).toBe(dlqMsgId(record));
    expect(await n.registry.getSingleMetricAsString('dlq_published_total')).toContain('reason="MAX_DELIVERIES"} 1');
  });

  it('dead-letters a non-retryable throw at once with HANDLER_ERROR', async () => {
    const { n, tenant, durable, publish } = await setup();
    let calls = 0;
    start(n, tenant, durable, async () => {
      calls++;
      throw new Error('wrapped', { cause: new PoisonError('bad row') });
    });
    await publish(1);
    const [entry] = await dlqRecords(n, 1);
    await settled(n, durable);
    expect(calls).toBe(1);
    expect(entry!.record).toMatchObject({ reason: 'HANDLER_ERROR', retryable: false, deliveries: 1, error: 'Error: wrapped' });
  });

  it('retries a retryable throw with backoff', async () => {
    const { n, tenant, durable, publish } = await setup();
    const deliveries: number[] = [];
    start(n, tenant, durable, async (msg) => {
      deliveries.push(msg.deliveryCount);
      if (msg.deliveryCount < 3) throw new Error('flaky');
      return ack();
    });
    await publish(1);
    await waitFor(() => deliveries.length === 3);
    await settled(n, durable);
    expect(await streamMessages(n.jsm, n.streams.dlq.name)).toBe(0);
  });

  it('hands a dead-letter outcome to the DLQ with the handler attempts', async () => {
    const { n, tenant, durable, publish } = await setup();
    const attempts = [{ at: new Date().toISOString(), service: 'router', delivery: 1, error: 'bad json', detail: { offset: 3 } }];
    start(n, tenant, durable, async () => deadLetter('MALFORMED_JSON', 'bad json', attempts));
    await publish('{nope');
    const [entry] = await dlqRecords(n, 1);
    expect(entry!.record).toMatchObject({ reason: 'MALFORMED_JSON', retryable: false, attempts });
    expect(Buffer.from(entry!.record.payload_base64, 'base64').toString()).toBe('{nope');
    await settled(n, durable);
  });

  it('keeps the message when the DLQ publish fails, and dead-letters it once the DLQ is back', async () => {
    const { n, tenant, durable, publish } = await setup();
    const missing = `${n.prefix}_nodlq.dlq.${tenant}`;
    const deliveries: number[] = [];
    start(n, tenant, durable, async (msg) => {
      deliveries.push(msg.deliveryCount);
      return deadLetter('SCHEMA_INVALID', 'no');
    }, { dlqSubject: missing });
    await publish(1);
    await waitFor(() => deliveries.length >= 2, 15_000, 'a redelivery after the failed DLQ publish');
    const late = { name: `${n.streams.dlq.name}_LATE`, subjects: [`${n.prefix}_nodlq.dlq.*`] };
    await ensureStream(n.jsm, late);
    try {
      await waitFor(async () => (await streamMessages(n.jsm, late.name)) === 1, 15_000, 'the late DLQ record');
      await settled(n, durable);
      expect(await n.registry.getSingleMetricAsString('events_consumed_total')).toContain('outcome="dlq_failed"');
    } finally {
      await n.jsm.streams.delete(late.name);
    }
  });

  it('never dead-letters with maxDeliver -1', async () => {
    const { n, tenant, durable, publish } = await setup();
    const deliveries: number[] = [];
    start(n, tenant, durable, async (msg) => {
      deliveries.push(msg.deliveryCount);
      if (msg.deliveryCount === 1) return deadLetter('HANDLER_ERROR', 'x');
      if (msg.deliveryCount < 5) return retry('x', 5);
      return ack();
    }, { maxDeliver: -1 });
    await publish(1);
    await waitFor(() => deliveries.length === 5);
    await settled(n, durable);
    expect(await streamMessages(n.jsm, n.streams.dlq.name)).toBe(0);
  });

  it('keeps the order of 100 messages with concurrency 1', async () => {
    const { n, tenant, durable, publish } = await setup();
    for (let i = 0; i < 100; i++) await publish(i);
    const seen: number[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    start(n, tenant, durable, async (msg) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, Math.random() * 3));
      seen.push(Number(decode(msg.data)));
      inFlight--;
      return ack();
    });
    await waitFor(() => seen.length === 100, 30_000, '100 messages');
    expect(seen).toEqual([...Array(100).keys()]);
    expect(maxInFlight).toBe(1);
    await settled(n, durable);
  });

  it('runs up to `concurrency` handlers at once', async () => {
    const { n, tenant, durable, publish } = await setup();
    for (let i = 0; i < 12; i++) await publish(i);
    let inFlight = 0;
    let maxInFlight = 0;
    start(n, tenant, durable, async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 50));
      inFlight--;
      return ack();
    }, { concurrency: 4 });
    await settled(n, durable);
    expect(maxInFlight).toBeGreaterThan(1);
    expect(maxInFlight).toBeLessThanOrEqual(4);
  });

  it('stop() waits for the in-flight handler and settles its message', async () => {
    const { n, tenant, durable, publish } = await setup();
    const entered = deferred();
    const release = deferred();
    const consumer = start(n, tenant, durable, async () => {
      entered.resolve();
      await release.promise;
      return ack();
    });
    await publish(1);
    await entered.promise;
    let stopped = false;
    const stopping = consumer.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(stopped).toBe(false);
    expect(consumer.state()).toBe('draining');
    release.resolve();
    await stopping;
    expect(consumer.state()).toBe('stopped');
    await settled(n, durable);
  });

  it('calls working() so a handler slower than ack_wait is not redelivered', async () => {
    const { n, tenant } = await setup();
    const durable = `slow_${tenant}`;
    await ensureDurableConsumer(n.jsm, { stream: n.streams.ingest.name, durable, filterSubject: n.ingestFilter(tenant), ackWaitMs: 1_000 });
    const deliveries: number[] = [];
    start(n, tenant, durable, async (msg) => {
      deliveries.push(msg.deliveryCount);
      await new Promise((r) => setTimeout(r, 2_500));
      return ack();
    });
    await publishEvent(n.js, n.ingestSubject(tenant), encode('slow'), { msgId: 'slow-1' });
    await waitFor(() => deliveries.length === 1);
    await settled(n, durable);
    expect(deliveries).toEqual([1]);
  });

  it("one tenant's hung handler does not block another tenant", async () => {
    const { n, tenant: a, durable: durableA, publish: publishA } = await setup();
    const b = randomTenant();
    const durableB = `router_${b}`;
    await ensureDurableConsumer(n.jsm, { stream: n.streams.ingest.name, durable: durableB, filterSubject: n.ingestFilter(b) });
    const hang = deferred();
    start(n, a, durableA, async () => {
      await hang.promise;
      return ack();
    });
    const seenB: string[] = [];
    start(n, b, durableB, async (msg) => {
      seenB.push(decode(msg.data));
      return ack();
    });
    await publishA('a1');
    for (let i = 0; i < 5; i++) await publishEvent(n.js, n.ingestSubject(b), encode(`b${i}`), { msgId: `b-${i}` });
    await settled(n, durableB);
    expect(seenB).toEqual(['b0', 'b1', 'b2', 'b3', 'b4']);
    hang.resolve();
  });

  it('a sole reader re-attaching with a handler still running does not wait for that handler\'s message', async () => {
    // The server stalls (SIGSTOP) past two heartbeats while message 0's handler runs: the loop
    // attaches again with 0 still in flight. 0 is pending on the server but is not coming back, so
    // the attach must not hold the next messages until 0's handler is done (or the bound passes).
    // An ack wait well past the stall, so 0 is not redelivered for it: it stays in its handler.
    const { n, tenant, durable, publish } = await setup({ ackWaitMs: 10_000, privateServer: true });
    const release = deferred();
    const handledAt = new Map<string, number>();
    let deliveries0 = 0;
    try {
      await publish(0);
      start(n, tenant, durable, async (msg) => {
        const body = decode(msg.data);
        if (body === '0') {
          deliveries0++;
          await release.promise;
        }
        handledAt.set(body, Date.now());
        return ack();
      }, { concurrency: 4, soleReader: true, retryBackoffMs: [30_000], pullExpiresMs: 1_000 });
      await waitFor(async () => ((await n.jsm.consumers.info(n.streams.ingest.name, durable)).num_ack_pending === 1 ? true : undefined), 10_000, 'message 0 in its handler');
      server!.pause();
      await new Promise((r) => setTimeout(r, 2_500));
      server!.resume();
      const publishedAt = Date.now();
      await publish(1);
      await publish(2);
      await waitFor(() => (handledAt.has('1') && handledAt.has('2') ? true : undefined), 15_000, 'messages 1 and 2 handled');
      // Handled while 0 is still in its handler, within seconds rather than the 31 s bound.
      expect(deliveries0).toBe(1);
      expect(handledAt.has('0')).toBe(false);
      expect(Math.max(handledAt.get('1')!, handledAt.get('2')!) - publishedAt).toBeLessThan(8_000);
      release.resolve();
      await waitFor(() => (handledAt.has('0') ? true : undefined), 10_000, 'message 0 handled');
    } finally {
      release.resolve();
    }
  }, 60_000);
});
