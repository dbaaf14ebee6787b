// Shared by this package's tests only (not exported from mod.ts).
// @switchyard/testing depends on this package, so its fixtures are imported by path: a workspace
// dependency back to it would make a cycle that turbo refuses.
import { randomBytes } from 'node:crypto';
import { connect, type JetStreamClient, type JetStreamManager, type NatsConnection, type StoredMsg } from 'nats';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { Registry } from 'prom-client';
import { startNatsServer, TEST_NATS_URL } from '../../testing/src/nats-server.ts';
import { ensureStreams, type EnsuredStreams } from './streams.ts';

export { startNatsServer, TEST_NATS_URL };
export type { NatsServer } from '../../testing/src/nats-server.ts';

export const testLogger: Logger = pino({ level: process.env['LOG_LEVEL'] ?? 'silent' });

export function randomHex(): string {
  return randomBytes(4).toString('hex');
}

export function randomTenant(): string {
  return `t${randomHex()}`;
}

export interface TestNats {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  registry: Registry;
  /** Private streams under a random subject prefix: `<prefix>.ingest.>`, `<prefix>.events.>`, `<prefix>.dlq.*`. */
  streams: EnsuredStreams;
  prefix: string;
  ingestSubject(tenant: string, rest?: string): string;
  ingestFilter(tenant: string): string;
  dlqSubject(tenant: string): string;
  bucket: string;
  close(): Promise<void>;
}

/** Connects to a server and creates private streams (and a private tenant bucket name). */
export async function testNats(url = TEST_NATS_URL): Promise<TestNats> {
  const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const js = nc.jetstream();
  const jsm = await nc.jetstreamManager();
  const id = randomHex();
  const prefix = `t_${id}`;
  const streams = await ensureStreams(jsm, {
    duplicateWindowMs: 60_000,
    streams: {
      ingest: { name: `T_${id}_INGEST`, subjects: [`${prefix}.ingest.>`] },
      events: { name: `T_${id}_EVENTS`, subjects: [`${prefix}.events.>`] },
      dlq: { name: `T_${id}_DLQ`, subjects: [`${prefix}.dlq.*`] },
    },
  });
  const bucket = `t_${id}_tenants`;
  return {
    nc,
    js,
    jsm,
    registry: new Registry(),
    streams,
    prefix,
    ingestSubject: (tenant, rest = 'inst1.message.received') => `${prefix}.ingest.${tenant}.${rest}`,
    ingestFilter: (tenant) => `${prefix}.ingest.${tenant}.>`,
    dlqSubject: (tenant) => `${prefix}.dlq.${tenant}`,
    bucket,
    async close() {
      for (const stream of [streams.ingest.name, streams.events.name, streams.dlq.name, `KV_${bucket}`]) {
        await jsm.streams.delete(stream).catch(() => false);
      }
      await nc.drain();
    },
  };
}

/**
 * For a suite that needs a current nats-server (atomic batches, filter lists, the 2.12 redelivery
 * queue), not the shared one of TEST_NATS_URL, which may be older: starts one of its own with
 * private streams before the suite and stops it after. Call at describe level; the getter is
 * valid inside the suite's hooks and tests.
 */
export function ownNatsServer(): () => TestNats {
  let server: Awaited<ReturnType<typeof startNatsServer>> | undefined;
  let t: TestNats | undefined;
  beforeAll(async () => {
    server = await startNatsServer();
    t = await testNats(server.url);
  });
  afterAll(async () => {
    await t?.close();
    await server?.stop();
  });
  return () => {
    if (t === undefined) throw new Error('ownNatsServer(): used outside the suite it was set up in');
    return t;
  };
}

export async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function streamMessages(jsm: JetStreamManager, stream: string): Promise<number> {
  return (await jsm.streams.info(stream)).state.messages;
}

/** Every stored message of a stream, in order. */
export async function readStream(jsm: JetStreamManager, stream: string): Promise<StoredMsg[]> {
  const { state } = await jsm.streams.info(stream);
  const out: StoredMsg[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    out.push(await jsm.streams.getMessage(stream, { seq }));
  }
  return out;
}

export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
export const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/**
 * Stops a consumer started in this same tick, so its loop is still attaching, and throws unless
 * stop() resolved within `limitMs` (it used to wait forever for an iterator nobody read).
 */
export async function stopWhileAttaching(consumer: { stop(): Promise<void> }, limitMs = 5_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const inTime = await Promise.race([
    consumer.stop().then(() => true),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), limitMs))),
  ]);
  clearTimeout(timer);
  if (!inTime) throw new Error(`stop() while attaching had not resolved after ${limitMs} ms`);
}
