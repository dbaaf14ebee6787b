import { dlqRecordSchema } from '@switchyard/schema';
import { afterEach, describe, expect, it } from 'vitest';
import { startBatchConsumer, type BatchHandler, type RunningBatchConsumer, type StagedBatchHandler } from './consume-batch.ts';
import { ensureDurableConsumer } from './consumers.ts';
import { ack, deadLetter, retry, type Outcome } from './outcome.ts';
import { publishEvent } from './publish.ts';
import { decode, encode, randomTenant, readStream, startNatsServer, stopWhileAttaching, streamMessages, testLogger, testNats, waitFor, type NatsServer, type TestNats } from './test-support.ts';

describe('startBatchConsumer', () => {
  let t: TestNats | undefined;
  let server: NatsServer | undefined;
  const running: RunningBatchConsumer[] = [];

  afterEach(async () => {
    server?.resume();
    await Promise.all(running.splice(0).map((c) => c.stop()));
    await t?.close();
    t = undefined;
    await server?.stop();
    server = undefined;
  });

  /** On the shared server, or with `privateServer` on one of its own the test may stall. */
  async function setup(count: number, options: { ackWaitMs?: number; privateServer?: boolean } = {}) {
    if (options.privateServer === true) server = await startNatsServer();
    const n = await testNats(server?.url);
    t = n;
    const tenant = randomTenant();
    const durable = `persistence_${tenant}`;
    await ensureDurableConsumer(n.jsm, { stream: n.streams.ingest.name, durable, filterSubject: n.ingestFilter(tenant), ackWaitMs: options.ackWaitMs ?? 5_000 });
    for (let i = 0; i < count; i++) await publishEvent(n.js, n.ingestSubject(tenant), encode(String(i)), { msgId: `evt-${i}` });
    const start = (
      handler: BatchHandler | StagedBatchHandler<string[]>,
      extra: { batchSize?: number; maxWaitMs?: number; maxDeliver?: number; retryBackoffMs?: number[]; soleReader?: boolean; pullExpiresMs?: number } = {},
    ) => {
      const consumer = startBatchConsumer({
        js: n.js,
        stream: n.streams.ingest.name,
        durable,
        tenant,
        service: 'persistence',
        logger: testLogger,
        registry: n.registry,
        retryBackoffMs: extra.retryBackoffMs ?? [20],
        dlqSubject: n.dlqSubject(tenant),
        batchSize: extra.batchSize ?? 10,
        maxWaitMs: extra.maxWaitMs ?? 50,
        ...(extra.maxDeliver !== undefined ? { maxDeliver: extra.maxDeliver } : {}),
        ...(extra.soleReader !== undefined ? { soleReader: extra.soleReader } : {}),
        ...(extra.pullExpiresMs !== undefined ? { pullExpiresMs: extra.pullExpiresMs } : {}),
        handler,
      });
      running.push(consumer);
      return consumer;
    };
    const settled = () =>
      waitFor(async () => {
        const info = await n.jsm.consumers.info(n.streams.ingest.name, durable);
        return info.num_pending === 0 && info.num_ack_pending === 0;
      }, 15_000, 'every message settled');
    return { n, tenant, durable, start, settled };
  }

  it('hands over batches of at most batchSize, in stream order, and acks after the handler resolved', async () => {
    const { n, durable, start, settled } = await setup(25);
    const batches: string[][] = [];
    let acksBeforeResolve = 0;
    start(async (messages) => {
      batches.push(messages.map((m) => decode(m.data)));
      await new Promise((r) => setTimeout(r, 20));
      // Nothing of this batch may be acked while the handler is still running.
      const info = await n.jsm.consumers.info(n.streams.ingest.name, durable);
      if (info.num_ack_pending < messages.length) acksBeforeResolve++;
      return messages.map(() => ack());
    });
    await settled();
    expect(batches.flat()).toEqual(Array.from({ length: 25 }, (_, i) => String(i)));
    expect(Math.max(...batches.map((b) => b.length))).toBeLessThanOrEqual(10);
    expect(batches.length).toBeLessThan(25);
    expect(acksBeforeResolve).toBe(0);
  });

  it('stops at once when stopped while attaching, handling nothing, and leaves every message to the next reader', async () => {
    const { start, settled } = await setup(5);
    const handled: string[] = [];
    const handler: BatchHandler = async (messages) => {
      handled.push(...messages.map((m) => decode(m.data)));
      return messages.map(() => ack());
    };
    await stopWhileAttaching(start(handler));
    expect(handled).toEqual([]);
    start(handler);
    await settled();
    expect(handled).toEqual(['0', '1', '2', '3', '4']);
  });

  it('settles each message by its own outcome: ack, retry (redelivered), dead-letter', async () => {
    const { n, start, settled } = await setup(3);
    const deliveries = new Map<string, number[]>();
    start(async (messages) =>
      messages.map((m) => {
        const body = decode(m.data);
        deliveries.set(body, [...(deliveries.get(body) ?? []), m.deliveryCount]);
        if (body === '1') return m.deliveryCount === 1 ? retry('not yet') : ack();
        if (body === '2') return deadLetter('SCHEMA_INVALID', 'bad');
        return ack();
      }),
    );
    await settled();
    await waitFor(() => (deliveries.get('1')?.length === 2 ? true : undefined));
    expect(deliveries.get('0')).toEqual([1]);
    expect(deliveries.get('1')).toEqual([1, 2]);
    expect(await streamMessages(n.jsm, n.streams.dlq.name)).toBe(1);
    const [record] = (await readStream(n.jsm, n.streams.dlq.name)).map((m) => dlqRecordSchema.parse(JSON.parse(decode(m.data))));
    expect(record).toMatchObject({ reason: 'SCHEMA_INVALID', event_id: 'evt-2', service: 'persistence' });
  });

  describe('a sole reader taking a durable over', () => {
    /** The previous holder: takes the first message and leaves it unacked (what it does with it is up to the test). */
    async function previousHolderTakesFirst(n: TestNats, tenant: string, durable: string) {
      await ensureDurableConsumer(n.jsm, { stream: n.streams.ingest.name, durable, filterSubject: n.ingestFilter(tenant), ackWaitMs: 1_000 });
      const consumer = await n.js.consumers.get(n.streams.ingest.name, durable);
      const taken = [];
      for await (const m of await consumer.fetch({ max_messages: 1, expires: 2_000 })) taken.push(m);
      expect(taken.map((m) => decode(m.data))).toEqual(['0']);
      return taken[0]!;
    }

    it('waits for a message the previous holder nak\'d with a delay longer than ack_wait, so later messages do not overtake it', async () => {
      const { n, tenant, durable, start, settled } = await setup(5);
      const first = await previousHolderTakesFirst(n, tenant, durable);
      // Due again in 3 s: past ack_wait (1 s) plus the 1 s grace a takeover used to wait at most.
      first.nak(3_000);
      const seen: string[] = [];
      start(async (messages) => {
        seen.push(...messages.map((m) => decode(m.data)));
        return messages.map(() => ack());
      }, { soleReader: true, retryBackoffMs: [3_000] });
      await waitFor(() => (seen.length === 5 ? true : undefined), 10_000, 'all five handled');
      await settled();
      expect(seen).toEqual(['0', '1', '2', '3', '4']);
    });

    it('stops waiting as soon as the server has nothing else pending (the previous holder\'s late ack)', async () => {
      const { n, tenant, durable, start, settled } = await setup(5);
      const first = await previousHolderTakesFirst(n, tenant, durable);
      const seen: string[] = [];
      const startedAt = Date.now();
      // Could wait 31 s (the longest backoff) for the message pending at attach.
      start(async (messages) => {
        seen.push(...messages.map((m) => decode(m.data)));
        return messages.map(() => ack());
      }, { soleReader: true, retryBackoffMs: [30_000] });
      await new Promise((r) => setTimeout(r, 300));
      // Its ack lands after the new reader attached: nothing is coming back.
      await first.ackAck();
      await waitFor(() => (seen.length === 4 ? true : undefined), 10_000, 'the four others handled');
      await settled();
      expect(seen).toEqual(['1', '2', '3', '4']);
      expect(Date.now() - startedAt).toBeLessThan(8_000);
    });
  });

  describe('a sole reader re-attaching after consumer trouble', () => {
    it('does not let later messages overtake one it retried with a delay when the consumer goes away meanwhile', async () => {
      // A private server the test can stall (SIGSTOP): heartbeats go missing, the consume loop
      // throws its iterator away and attaches again while message 0 waits out its retry delay
      // and 1-4 wait behind it.
      const { start } = await setup(5, { ackWaitMs: 2_000, privateServer: true });
      const acked: string[] = [];
      let retried = false;
      start(
        async (messages) =>
          messages.map((m) => {
            const body = decode(m.data);
            if (body === '0' && !retried) {
              retried = true;
              return retry('not yet');
            }
            acked.push(body);
            return ack();
          }),
        { batchSize: 1, maxWaitMs: 0, soleReader: true, retryBackoffMs: [4_000], pullExpiresMs: 1_000 },
      );
      await waitFor(() => (retried ? true : undefined), 10_000, 'message 0 retried');
      // 1-4 are delivered and held behind 0's retry; stall the server past two heartbeats.
      await new Promise((r) => setTimeout(r, 300));
      server!.pause();
      await new Promise((r) => setTimeout(r, 2_000));
      server!.resume();
      await waitFor(() => (acked.length >= 5 ? true : undefined), 20_000, 'all five acked');
      expect(acked).toEqual(['0', '1', '2', '3', '4']);
    }, 40_000);
  });

  it('retries the whole batch when the handler throws, and dead-letters after maxDeliver', async () => {
    const { n, start, settled } = await setup(2);
    let calls = 0;
    start(async () => {
      calls++;
      throw new Error('postgres is away');
    }, { maxDeliver: 2 });
    await waitFor(async () => ((await streamMessages(n.jsm, n.streams.dlq.name)) === 2 ? true : undefined));
    await settled();
    expect(calls).toBeGreaterThanOrEqual(2);
    const reasons = (await readStream(n.jsm, n.streams.dlq.name)).map((m) => dlqRecordSchema.parse(JSON.parse(decode(m.data))).reason);
    expect(reasons).toEqual(['MAX_DELIVERIES', 'MAX_DELIVERIES']);
  });
  // Two kinds of handler, one rule: a retried message is not overtaken by the ones after it.
  const kinds = {
    plain: (fn: (bodies: string[], deliveries: number[]) => Outcome[]): BatchHandler => async (messages) =>
      fn(messages.map((m) => decode(m.data)), messages.map((m) => m.deliveryCount)),
    staged: (fn: (bodies: string[], deliveries: number[]) => Outcome[]): StagedBatchHandler<string[]> => ({
      prepare: (messages) => messages.map((m) => decode(m.data)),
      commit: async (bodies, messages) => fn(bodies, messages.map((m) => m.deliveryCount)),
    }),
  };

  for (const [kind, make] of Object.entries(kinds)) {
    it(`(${kind}) waits the backoff when ANY message of a batch is retried, and nothing after it overtakes it`, async () => {
      const { start, settled } = await setup(8);
      const backoffMs = 400;
      const handled: { body: string; delivery: number; at: number }[] = [];
      let retriedAt = 0;
      start(
        make((bodies, deliveries) => {
          const at = Date.now();
          return bodies.map((body, i) => {
            handled.push({ body, delivery: deliveries[i]!, at });
            if (body === '1' && deliveries[i] === 1) {
              retriedAt = at;
              return retry('not yet');
            }
            return ack();
          });
        }),
        { batchSize: 2, retryBackoffMs: [backoffMs] },
      );
      await settled();
      // Each message ends acked once, and the first time '2' or later is handled comes after '1' came back.
      const acked = handled.filter((h) => !(h.body === '1' && h.delivery === 1)).map((h) => h.body);
      expect(acked).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
      const afterRetry = handled.filter((h) => h.at > retriedAt);
      expect(afterRetry[0]?.body).toBe('1');
      expect(afterRetry[0]!.at - retriedAt).toBeGreaterThanOrEqual(backoffMs - 20);
    });
  }

  it('(staged) prepares the next batch while the current one commits, and commits in stream order', async () => {
    const { start, settled } = await setup(30);
    const log: string[] = [];
    let prepared = 0;
    let committed = 0;
    start(
      {
        prepare: (messages) => {
          log.push(`prepare ${++prepared}`);
          return messages.map((m) => decode(m.data));
        },
        commit: async (bodies) => {
          const n = ++committed;
          log.push(`commit ${n} ${bodies[0]}-${bodies.at(-1)}`);
          await new Promise((r) => setTimeout(r, 100));
          log.push(`committed ${n}`);
          return bodies.map(() => ack());
        },
      },
      { batchSize: 10 },
    );
    await settled();
    expect(log.filter((l) => l.startsWith('commit ')).map((l) => l.split(' ')[2])).toEqual(['0-9', '10-19', '20-29']);
    // Batch 2 was prepared before batch 1 finished committing.
    expect(log.indexOf('prepare 2')).toBeLessThan(log.indexOf('committed 1'));
    expect(log.indexOf('commit 2 10-19')).toBeGreaterThan(log.indexOf('committed 1'));
  });
  it('(staged) sends the next commit before settling a batch of acks, and stop() settles a commit it started', async () => {
    const { n, tenant, start, settled } = await setup(30);
    const ackedBefore: number[] = [];
    const acked = async () =>
      ((await n.registry.getSingleMetric('events_consumed_total')?.get())?.values ?? [])
        .filter((v) => v.labels['tenant'] === tenant && v.labels['outcome'] === 'ack')
        .reduce((sum, v) => sum + v.value, 0);
    let commits = 0;
    const consumer = start(
      {
        prepare: (messages) => messages.map((m) => decode(m.data)),
        commit: async (bodies) => {
          // How many messages were settled as this commit starts: batch 1's acks come after.
          ackedBefore.push(await acked());
          if (++commits === 2) void consumer.stop();
          await new Promise((r) => setTimeout(r, 100));
          return bodies.map(() => ack());
        },
      },
      { batchSize: 10 },
    );
    await waitFor(async () => consumer.state() === 'stopped', 10_000, 'consumer stopped');
    expect(ackedBefore, 'messages settled as each commit started').toEqual([0, 0]);
    // The commit started before stop() was settled, not handed back: both batches acked.
    expect(await acked(), 'messages acked').toBe(20);
    // Acks are fire-and-forget: the server may apply them just after the client sent them.
    await waitFor(async () => ((await n.jsm.consumers.info(n.streams.ingest.name, `persistence_${tenant}`)).ack_floor.consumer_seq >= 20 ? true : undefined), 5_000, 'ack floor at 20');
    // The rest is handed back: another consumer gets it, and only it.
    const rest: string[] = [];
    start(async (messages) => {
      rest.push(...messages.map((m) => decode(m.data)));
      return messages.map(() => ack());
    });
    await settled();
    expect([...new Set(rest)].sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 10 }, (_, i) => String(20 + i)));
  });
});
