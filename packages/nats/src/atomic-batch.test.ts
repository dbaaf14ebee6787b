import { beforeAll, describe, expect, it } from 'vitest';
import { publishAtomicBatch, publishAtomicRun, type BatchMessage } from './atomic-batch.ts';
import { publishEvent } from './publish.ts';
import { decode, encode, ownNatsServer, readStream, streamMessages, type TestNats } from './test-support.ts';

// Atomic batches need nats-server 2.12+: these tests run their own (.tools/bin), not the shared
// server of TEST_NATS_URL, which may be older.
describe('atomic batch publishing', () => {
  const own = ownNatsServer();
  let t: TestNats;
  beforeAll(() => {
    t = own();
  });

  const stream = (): string => t.streams.ingest.name;
  const messages = (tag: string, count: number, from = 0): BatchMessage[] =>
    Array.from({ length: count }, (_, i) => ({
      subject: t.ingestSubject('acme', `inst${(from + i) % 3}.message.received`),
      data: encode(`${tag}-${from + i}`),
      msgId: `${tag}-${from + i}`,
      headers: { 'Switchyard-Seq': String(from + i) },
    }));

  it('stores a run in order, in batches of at most the limit, and reports each sequence', async () => {
    const before = await streamMessages(t.jsm, stream());
    const sent = messages('run', 250);
    const run = await publishAtomicRun(t.nc, sent, { stream: stream(), maxMessages: 100 });
    expect(run.refused).toBeUndefined();
    expect(run.results).toHaveLength(250);
    const stored = (await readStream(t.jsm, stream())).slice(before);
    expect(stored.map((m) => decode(m.data))).toEqual(sent.map((m) => decode(m.data)));
    expect(stored.map((m) => m.seq)).toEqual(run.results.map((r) => r.seq));
    expect(stored.map((m) => m.header.get('Nats-Msg-Id'))).toEqual(sent.map((m) => m.msgId));
    expect(stored.map((m) => m.header.get('Switchyard-Seq'))).toEqual(sent.map((m) => m.headers?.['Switchyard-Seq']));
    expect(run.results.every((r) => r.stream === stream() && !r.duplicate)).toBe(true);
  });

  it('stores nothing of a batch holding an id the stream already has', async () => {
    await publishEvent(t.js, t.ingestSubject('acme'), encode('dup-5'), { msgId: 'dup-5' });
    const before = await streamMessages(t.jsm, stream());
    const batch = await publishAtomicBatch(t.nc, messages('dup', 10), { stream: stream() });
    expect(batch.stored).toBe(false);
    expect(!batch.stored && batch.reason).toMatch(/duplicate/i);
    expect(!batch.stored && batch.unsure).toBeFalsy();
    expect(await streamMessages(t.jsm, stream())).toBe(before);
  });

  it('stops a run at the refused batch: the ones before it stay stored, none after it is sent', async () => {
    await publishEvent(t.js, t.ingestSubject('acme'), encode('stop-15'), { msgId: 'stop-15' });
    const before = await streamMessages(t.jsm, stream());
    const run = await publishAtomicRun(t.nc, messages('stop', 30), { stream: stream(), maxMessages: 10 });
    expect(run.results).toHaveLength(10);
    expect(run.refused).toMatch(/duplicate/i);
    const stored = (await readStream(t.jsm, stream())).slice(before);
    expect(stored.map((m) => decode(m.data))).toEqual(Array.from({ length: 10 }, (_, i) => `stop-${i}`));
  });

  it('stores nothing of a batch with one message over the stream max_msg_size', async () => {
    const name = `${stream()}_SMALL`;
    const subject = `${t.prefix}.small.x`;
    await t.jsm.streams.add({ name, subjects: [subject], max_msg_size: 64, allow_atomic: true } as Parameters<typeof t.jsm.streams.add>[0]);
    try {
      const batch = await publishAtomicBatch(
        t.nc,
        [
          { subject, data: encode('small'), msgId: 's1' },
          { subject, data: new Uint8Array(200), msgId: 's2' },
          { subject, data: encode('small'), msgId: 's3' },
        ],
        { stream: name },
      );
      expect(batch.stored).toBe(false);
      expect(await streamMessages(t.jsm, name)).toBe(0);
    } finally {
      await t.jsm.streams.delete(name);
    }
  });

  it('is refused, storing nothing, by a stream that does not allow atomic publishes', async () => {
    const name = `${stream()}_PLAIN`;
    const subject = `${t.prefix}.plain.x`;
    await t.jsm.streams.add({ name, subjects: [subject] });
    try {
      const batch = await publishAtomicBatch(t.nc, [{ subject, data: encode('a'), msgId: 'p1' }, { subject, data: encode('b'), msgId: 'p2' }], { stream: name });
      expect(batch.stored).toBe(false);
      expect(!batch.stored && batch.reason).toMatch(/atomic publish/i);
      expect(await streamMessages(t.jsm, name)).toBe(0);
    } finally {
      await t.jsm.streams.delete(name);
    }
  });

  it('refuses more messages than one batch may hold before sending any', async () => {
    await expect(publishAtomicBatch(t.nc, messages('big', 1_001), { stream: stream() })).rejects.toThrow(RangeError);
  });
});
