import { connect } from 'nats';
import { afterEach, describe, expect, it } from 'vitest';
import { connectNats, isNatsConnected } from './connect.ts';
import { startConsumer, type RunningConsumer } from './consume.ts';
import { ensureDurableConsumer } from './consumers.ts';
import { DependencyUnreachableError } from '@switchyard/runtime';
import { ack } from './outcome.ts';
import { publishEvent } from './publish.ts';
import { ensureStreams } from './streams.ts';
import { decode, encode, randomTenant, startNatsServer, testLogger, testNats, waitFor, type TestNats } from './test-support.ts';
import { Registry } from 'prom-client';

type Server = Awaited<ReturnType<typeof startNatsServer>>;

describe('connectNats', () => {
  it('names the URL it could not reach and how to start NATS', async () => {
    const url = 'nats://127.0.0.1:1';
    const err: unknown = await connectNats({ url, name: 'test', logger: testLogger, timeoutMs: 400 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyUnreachableError);
    expect((err as DependencyUnreachableError).url).toBe(url);
    expect((err as Error).message).toContain(url);
    expect((err as Error).message).toContain('nats-server -js');
  });

  it('waits for a server that starts late, then reports readiness', async () => {
    const server = await startNatsServer();
    try {
      await server.kill();
      const connecting = connectNats({ url: server.url, name: 'test', logger: testLogger, timeoutMs: 20_000 });
      await new Promise((r) => setTimeout(r, 500));
      await server.restart();
      const nc = await connecting;
      expect(isNatsConnected(nc)).toBe(true);
      await nc.close();
      expect(isNatsConnected(nc)).toBe(false);
    } finally {
      await server.stop();
    }
  });
});

describe('consumer recovery', () => {
  let server: Server | undefined;
  let t: TestNats | undefined;
  const running: RunningConsumer[] = [];

  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.stop()));
    await t?.close();
    t = undefined;
    await server?.stop();
    server = undefined;
  });

  it('keeps consuming across a NATS restart (same store)', async () => {
    server = await startNatsServer();
    const n = await testNats(server.url);
    t = n;
    const tenant = randomTenant();
    const durable = `router_${tenant}`;
    await ensureDurableConsumer(n.jsm, { stream: n.streams.ingest.name, durable, filterSubject: n.ingestFilter(tenant) });
    const seen: string[] = [];
    running.push(
      startConsumer({
        js: n.js,
        stream: n.streams.ingest.name,
        durable,
        tenant,
        service: 'router',
        logger: testLogger,
        registry: n.registry,
        handler: async (msg) => {
          seen.push(decode(msg.data));
          return ack();
        },
      }),
    );
    await publishEvent(n.js, n.ingestSubject(tenant), encode('before'), { msgId: 'm-1' });
    await waitFor(() => seen.length === 1);
    await server.kill();
    await server.restart();
    await waitFor(async () => {
      try {
        await publishEvent(n.js, n.ingestSubject(tenant), encode('after'), { msgId: 'm-2', timeoutMs: 1_000 });
        return true;
      } catch {
        return undefined;
      }
    }, 30_000, 'publishing after the restart');
    await waitFor(() => seen.includes('after'), 45_000, 'consuming after the restart');
  });

  it('recreates a durable deleted under it when given jsm and its spec', async () => {
    server = await startNatsServer();
    const n = await testNats(server.url);
    t = n;
    const tenant = randomTenant();
    const durable = `router_${tenant}`;
    const seen: string[] = [];
    running.push(
      startConsumer({
        js: n.js,
        jsm: n.jsm,
        ensure: { filterSubject: n.ingestFilter(tenant) },
        stream: n.streams.ingest.name,
        durable,
        tenant,
        service: 'router',
        logger: testLogger,
        registry: new Registry(),
        handler: async (msg) => {
          seen.push(decode(msg.data));
          return ack();
        },
      }),
    );
    await publishEvent(n.js, n.ingestSubject(tenant), encode('one'), { msgId: 'm-1' });
    await waitFor(() => seen.length === 1);
    await n.jsm.consumers.delete(n.streams.ingest.name, durable);
    await publishEvent(n.js, n.ingestSubject(tenant), encode('two'), { msgId: 'm-2' });
    // A recreated durable delivers all, so 'one' may come again: effects are idempotent.
    await waitFor(() => seen.includes('two'), 45_000, 'consuming after the durable was recreated');
  });
});

describe('nats-server fixture', () => {
  it('starts a JetStream server with the given config and cleans up', async () => {
    const server = await startNatsServer({ config: 'max_payload: 2048\n' });
    try {
      const nc = await connect({ servers: server.url });
      expect(nc.info?.max_payload).toBe(2048);
      const jsm = await nc.jetstreamManager();
      await ensureStreams(jsm);
      expect((await jsm.streams.info('INGEST')).config.subjects).toEqual(['v1.ingest.>']);
      await nc.close();
    } finally {
      await server.stop();
    }
  });
});
