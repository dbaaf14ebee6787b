import { nanos } from 'nats';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureStreams, STREAM_DEFAULTS } from './streams.ts';
import { publishEvent } from './publish.ts';
import { encode, streamMessages, testNats, type TestNats } from './test-support.ts';

describe('ensureStreams', () => {
  let t: TestNats | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('creates the three streams with file storage, no byte limit and the dedupe window', async () => {
    t = await testNats();
    for (const kind of ['ingest', 'events', 'dlq'] as const) {
      const { config } = await t.jsm.streams.info(t.streams[kind].name);
      expect(config.storage).toBe('file');
      expect(config.max_bytes).toBe(-1);
      expect(config.max_msgs).toBe(-1);
      expect(config.max_age).toBe(nanos(STREAM_DEFAULTS.maxAgeMs[kind]));
      expect(config.duplicate_window).toBe(nanos(60_000));
      expect(config.subjects).toEqual(t.streams[kind].subjects);
    }
  });

  it('is idempotent and updates a drifted config without losing messages', async () => {
    t = await testNats();
    const overrides = { streams: t.streams, duplicateWindowMs: 60_000 };
    await publishEvent(t.js, t.ingestSubject('acme'), encode('kept'), { msgId: 'e1' });
    await ensureStreams(t.jsm, overrides);
    await ensureStreams(t.jsm, { ...overrides, maxAgeMs: { ingest: 3 * 24 * 3600 * 1000 } });
    const { config } = await t.jsm.streams.info(t.streams.ingest.name);
    expect(config.max_age).toBe(nanos(3 * 24 * 3600 * 1000));
    expect(await streamMessages(t.jsm, t.streams.ingest.name)).toBe(1);
  });
});
