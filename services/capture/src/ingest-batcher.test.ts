import { connect, type NatsConnection } from 'nats';
import { Counter, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureStreams, publishEvent, type PublishResult } from '@switchyard/nats';
import { ingestSubject, STREAMS } from '@switchyard/schema';
import { randomName, startNatsServer, type NatsServer } from '@switchyard/testing';
import { createIngestBatcher, type IngestBatcher } from './ingest-batcher.ts';
import { readStream, silentLogger } from './test-support.ts';

// A server of our own (.tools/bin, 2.12+): atomic batches need it.
describe('ingest batcher', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let batches: Counter<'outcome'>;
  let batcher: IngestBatcher;
  const tenant = randomName('t').replace(/-/g, '_');
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    await ensureStreams(await nc.jetstreamManager());
    batches = new Counter({ name: 'batches', help: 'test', labelNames: ['outcome'], registers: [new Registry()] });
    batcher = createIngestBatcher({ nc, js: nc.jetstream(), logger: silentLogger, batches });
  });
  afterAll(async () => {
    await nc.close();
    await server.stop();
  });

  const count = async (outcome: string): Promise<number> =>
    (await batches.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;

  /** One turn: `ids` published in this order, instance by id number (5 instances). */
  function turn(ids: readonly string[]): Promise<PublishResult>[] {
    return ids.map((id, i) =>
      batcher.publish(ingestSubject(tenant, `phone-${i % 5}`, 'message.received'), encoder.encode(id), id, 5_000),
    );
  }

  /** What INGEST holds of this test's tenant, in stream order, from `after` on. */
  async function stored(prefix: string): Promise<string[]> {
    const all = await readStream(await nc.jetstreamManager(), STREAMS.ingest);
    return all.map((m) => decoder.decode(m.data)).filter((body) => body.startsWith(prefix));
  }

  const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

  it('stores a turn of many instances as atomic batches of at most 1,000, in the order published', async () => {
    const before = await count('stored');
    const sent = ids('big', 1_500);
    const results = await Promise.all(turn(sent));
    expect(await count('stored')).toBe(before + 2);
    expect(results.every((r) => r.stream === STREAMS.ingest && !r.duplicate)).toBe(true);
    const seqs = results.map((r) => r.seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    expect(await stored('big-')).toEqual(sent);
  });

  it('publishes a short turn one event at a time, still in order', async () => {
    const before = (await count('stored')) + (await count('refused')) + (await count('unsure'));
    const sent = ids('short', 10);
    const results = await Promise.all(turn(sent));
    expect((await count('stored')) + (await count('refused')) + (await count('unsure'))).toBe(before);
    expect(results.map((r) => r.duplicate)).toEqual(sent.map(() => false));
    expect(await stored('short-')).toEqual(sent);
  });

  it('sends a refused batch one by one before anything published after it', async () => {
    // The stream already holds one id of the batch: the server refuses the whole batch.
    await publishEvent(nc.jetstream(), ingestSubject(tenant, 'phone-0', 'message.received'), encoder.encode('first-50'), { msgId: 'first-50' });
    const refusedBefore = await count('refused');
    const first = turn(ids('first', 100));
    // Published while the first turn's commit is out: it must land after the first turn's fallback.
    await new Promise((r) => setImmediate(r));
    const second = turn(ids('second', 100));
    const firstResults = await Promise.all(first);
    await Promise.all(second);
    expect(await count('refused')).toBe(refusedBefore + 1);
    expect(firstResults[50]?.duplicate).toBe(true);
    expect(firstResults.filter((r) => r.duplicate)).toHaveLength(1);
    const firstIds = ids('first', 100);
    expect(await stored('first-')).toEqual(['first-50', ...firstIds.filter((id) => id !== 'first-50')]);
    const order = (await stored('')).filter((b) => b.startsWith('first-') || b.startsWith('second-'));
    expect(order.slice(-100)).toEqual(ids('second', 100));
  });

  it('rejects what it cannot store, each event on its own, and goes on with the next turn', async () => {
    const tooBig = new Uint8Array(2 * 1024 * 1024);
    const sent = ids('mixed', 80);
    const results = sent.map((id, i) =>
      batcher.publish(ingestSubject(tenant, 'phone-1', 'message.received'), i === 40 ? tooBig : encoder.encode(id), id, 5_000),
    );
    const settled = await Promise.allSettled(results);
    expect(settled.map((s) => s.status)).toEqual(sent.map((_, i) => (i === 40 ? 'rejected' : 'fulfilled')));
    expect(await stored('mixed-')).toEqual(sent.filter((_, i) => i !== 40));
    const after = await Promise.all(turn(ids('after', 3)));
    expect(after.every((r) => !r.duplicate)).toBe(true);
  });
});
