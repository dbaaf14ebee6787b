import { describe, expect, it } from 'vitest';
import type { JsMsg } from 'nats';
import { startBatchConsumer } from './consume-batch.ts';
import { startConsumer } from './consume.ts';
import { ensureDurableConsumer } from './consumers.ts';
import { ack, type Outcome } from './outcome.ts';
import { publishEvent } from './publish.ts';
import { redeliveriesInOrder } from './redelivery-order.ts';
import { decode, encode, ownNatsServer, randomTenant, testLogger, waitFor, type TestNats } from './test-support.ts';

/**
 * The hazard, made to happen every time: a reader takes 20 messages, naks them all with one
 * delay and goes away (its pull request stays queued at the server, its subscriber gone). When
 * the delay is up, nats-server takes message 1, finds only that dead request, and puts message 1
 * back at the end of its redelivery queue: a plain reader attaching next gets 2…20, then 1.
 * (Checked by hand: without redeliveriesInOrder both loops below see exactly that order.)
 */
async function strandPendingMessages(t: TestNats, count: number): Promise<{ tenant: string; durable: string }> {
  const tenant = randomTenant();
  const durable = `zz_${tenant}`;
  const stream = t.streams.ingest.name;
  await ensureDurableConsumer(t.jsm, { stream, durable, filterSubject: t.ingestFilter(tenant), ackWaitMs: 3_000 });
  for (let i = 1; i <= count; i++) await publishEvent(t.js, t.ingestSubject(tenant), encode(String(i)), { msgId: `${tenant}-${i}` });
  const iter = await (await t.js.consumers.get(stream, durable)).consume({ max_messages: 64 });
  const taken: JsMsg[] = [];
  const reading = (async () => {
    for await (const msg of iter) taken.push(msg);
  })();
  await waitFor(() => taken.length === count || undefined, 10_000, `${count} first deliveries`);
  for (const msg of taken) msg.nak(300);
  await t.nc.flush();
  await iter.close();
  await reading;
  await t.nc.flush();
  // Past the nak delay: the redelivery queue is already in the server's (wrong) order.
  await new Promise((r) => setTimeout(r, 800));
  return { tenant, durable };
}

describe('a reader attaching to a durable with pending messages', () => {
  // A server of our own (the pinned 2.12): the queue behaviour above is that version's.
  const own = ownNatsServer();
  const expected = Array.from({ length: 20 }, (_, i) => String(i + 1));

  /** Strands 20 messages, starts a loop on their durable, and answers the bodies it handled, in order. */
  async function handledAfterStranding(start: (t: TestNats, tenant: string, durable: string, seen: string[]) => { stop(): Promise<void> }): Promise<string[]> {
    const t = own();
    const { tenant, durable } = await strandPendingMessages(t, 20);
    const seen: string[] = [];
    const consumer = start(t, tenant, durable, seen);
    try {
      await waitFor(() => seen.length >= 20 || undefined, 15_000, 'every redelivery handled');
    } finally {
      await consumer.stop();
    }
    return seen;
  }

  it('gets them in stream order through the batch consume loop', async () => {
    const seen = await handledAfterStranding((t, tenant, durable, handled) =>
      startBatchConsumer({
        js: t.js,
        stream: t.streams.ingest.name,
        durable,
        tenant,
        service: 'router',
        logger: testLogger,
        registry: t.registry,
        batchSize: 8,
        maxWaitMs: 20,
        soleReader: true,
        handler: async (messages) => {
          handled.push(...messages.map((m) => decode(m.data)));
          return messages.map((): Outcome => ack());
        },
      }),
    );
    expect(seen).toEqual(expected);
  });

  it('gets them in stream order through the one-at-a-time consume loop', async () => {
    const seen = await handledAfterStranding((t, tenant, durable, handled) =>
      startConsumer({
        js: t.js,
        stream: t.streams.ingest.name,
        durable,
        tenant,
        service: 'webhook-dispatch',
        logger: testLogger,
        registry: t.registry,
        concurrency: 1,
        soleReader: true,
        handler: async (message) => {
          handled.push(decode(message.data));
          return ack();
        },
      }),
    );
    expect(seen).toEqual(expected);
  });
});

describe('redeliveriesInOrder', () => {
  const worked: number[] = [];
  const msg = (seq: number, redelivered: boolean): JsMsg => ({ seq, redelivered, working: () => worked.push(seq) }) as unknown as JsMsg;
  async function* arriving(msgs: JsMsg[], thenHangMs = 0): AsyncGenerator<JsMsg> {
    yield* msgs;
    if (thenHangMs > 0) await new Promise((r) => setTimeout(r, thenHangMs));
  }
  const collect = async (source: AsyncIterable<JsMsg>): Promise<number[]> => {
    const out: number[] = [];
    for await (const m of source) out.push(m.seq);
    return out;
  };

  it('sorts the pending redeliveries, and anything new that came among them, then passes the rest through', async () => {
    const source = arriving([msg(5, true), msg(3, false), msg(6, true), msg(4, true), msg(9, false), msg(7, false), msg(8, false)]);
    const shorts: number[][] = [];
    const seqs = await collect(redeliveriesInOrder(source, { pending: 3, withinMs: 1_000, keepAliveMs: 100, onShort: (got, of) => shorts.push([got, of]) }));
    // Gathering ends with the third redelivery; what arrives after it passes through as it comes.
    expect(seqs).toEqual([3, 4, 5, 6, 9, 7, 8]);
    expect(shorts).toEqual([]);
  });

  it('goes on without a redelivery that does not come within the bound, says so, and keeps the gathered ones alive meanwhile', async () => {
    worked.length = 0;
    const source = arriving([msg(12, true), msg(11, true)], 1_000);
    const shorts: number[][] = [];
    const started = Date.now();
    const gen = redeliveriesInOrder(source, { pending: 3, withinMs: 200, keepAliveMs: 100, onShort: (got, of) => shorts.push([got, of]) });
    const seqOf = (result: IteratorResult<JsMsg>): number | undefined => (result.done === true ? undefined : result.value.seq);
    const first = seqOf(await gen.next());
    const second = seqOf(await gen.next());
    expect([first, second]).toEqual([11, 12]);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(shorts).toEqual([[2, 3]]);
    // Gathered for 200 ms with a keep-alive every 100 ms: not redelivered while they wait.
    expect(new Set(worked)).toEqual(new Set([11, 12]));
    await gen.return(undefined);
  });

  it('stops waiting once the server has nothing pending beyond what was gathered, even while new messages keep arriving', async () => {
    // A busy durable: a new message every 10 ms, the one pending at attach never comes back (it was
    // acked after the attach), and the server says only the gathered ones are out.
    let gathered = 0;
    async function* busy(): AsyncGenerator<JsMsg> {
      for (let seq = 100; ; seq++) {
        await new Promise((r) => setTimeout(r, 10));
        gathered++;
        yield msg(seq, false);
      }
    }
    const shorts: number[][] = [];
    const started = Date.now();
    const gen = redeliveriesInOrder(busy(), { pending: 1, withinMs: 10_000, pollMs: 100, outstanding: async () => gathered, keepAliveMs: 1_000, onShort: (got, of) => shorts.push([got, of]) });
    const first = await gen.next();
    expect(first.done !== true && first.value.seq).toBe(100);
    expect(Date.now() - started).toBeLessThan(2_000);
    // Not short: nothing was missing, the count at attach had only not caught up with an ack.
    expect(shorts).toEqual([]);
    await gen.return(undefined);
  });
});
