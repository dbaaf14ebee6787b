import { randomBytes } from 'node:crypto';
import type { NatsConnection } from 'nats';
import type pg from 'pg';
import { Pool as HttpPool } from 'undici';
import { quoteIdent } from '@switchyard/db';
import { publishAtomicRun } from '@switchyard/nats';
import { summarizeLatencies, round, type LatencySummary } from './stats.ts';

/**
 * The raw ceilings every benchmark compares itself with, measured in the same run on the same
 * servers: what the hardware and the client libraries do with no Switchyard code in the way.
 */

export interface RateFigure {
  count: number;
  seconds: number;
  per_second: number;
}

function rate(count: number, startedNs: bigint): RateFigure {
  const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
  return { count, seconds: round(seconds), per_second: Math.round(count / seconds) };
}

/** A payload the size of a typical text-message envelope (~600 bytes). */
export function samplePayload(bytes = 600): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ pad: randomBytes(Math.max(0, Math.floor((bytes - 12) * 0.75))).toString('base64') }).slice(0, bytes));
}

/**
 * Acknowledged JetStream publishes per second into a throwaway file-backed stream, with `window`
 * publishes in flight, each with a unique Nats-Msg-Id (as Switchyard publishes).
 */
export async function rawJetStreamPublishRate(
  nc: NatsConnection,
  options: { count: number; payloadBytes?: number; window?: number },
): Promise<RateFigure> {
  const js = nc.jetstream();
  const payload = samplePayload(options.payloadBytes);
  return onThrowawayStream(nc, 'raw', {}, async (name, subject) => {
    const started = process.hrtime.bigint();
    let next = 0;
    const worker = async () => {
      while (next < options.count) {
        const i = next++;
        await js.publish(subject, payload, { msgID: `${name}-${i}` });
      }
    };
    await Promise.all(Array.from({ length: options.window ?? 256 }, worker));
    return rate(options.count, started);
  });
}

/**
 * Runs `use` on a file-backed stream of its own (`BENCH_<KIND>_<hex>`, one subject), deleted
 * afterwards: a ceiling measures on nothing else's data and leaves nothing behind.
 */
export async function onThrowawayStream<T>(
  nc: NatsConnection,
  kind: string,
  config: { allow_atomic?: boolean },
  use: (name: string, subject: string) => Promise<T>,
): Promise<T> {
  const jsm = await nc.jetstreamManager();
  const name = `BENCH_${kind.toUpperCase()}_${randomBytes(4).toString('hex').toUpperCase()}`;
  const subject = `bench.${kind}.${name.toLowerCase()}`;
  await jsm.streams.add({ name, subjects: [subject], ...config });
  try {
    return await use(name, subject);
  } finally {
    await jsm.streams.delete(name);
  }
}

/**
 * The same stream writes as JetStream atomic batches (nats-server ≥ 2.12): `publishers` concurrent
 * publishers, each sending consecutive batches of `batch` messages and waiting for each batch's
 * one PubAck — the shape of the router draining a backlog (a batch per tenant in flight). Not a
 * ceiling the targets are read against (those are per-message acknowledged publishes); reported
 * beside them so a figure using atomic batches can be read against its own kind of write too.
 */
export async function rawJetStreamAtomicPublishRate(
  nc: NatsConnection,
  options: { count: number; payloadBytes?: number; batch?: number; publishers?: number },
): Promise<RateFigure> {
  const payload = samplePayload(options.payloadBytes);
  const size = options.batch ?? 256;
  return onThrowawayStream(nc, 'atomic', { allow_atomic: true }, async (name, subject) => {
    const started = process.hrtime.bigint();
    let next = 0;
    const publisher = async () => {
      while (next < options.count) {
        const from = next;
        next = Math.min(options.count, next + size);
        const messages = Array.from({ length: next - from }, (_, i) => ({ subject, data: payload, msgId: `${name}-${from + i}` }));
        const run = await publishAtomicRun(nc, messages, { maxMessages: size });
        if (run.refused !== undefined) throw new Error(`raw atomic batch refused: ${run.refused}`);
      }
    };
    await Promise.all(Array.from({ length: options.publishers ?? 10 }, publisher));
    return rate(options.count, started);
  });
}

/**
 * Rows per second into a table shaped like a tenant's `events` table (text primary key, jsonb),
 * inserted in multi-row batches with unnest — the best plain-SQL way, which is what the
 * persistence service is compared with.
 */
export async function rawPostgresInsertRate(
  pool: pg.Pool,
  options: { rows: number; batchSize?: number; payloadBytes?: number },
): Promise<RateFigure> {
  const schema = quoteIdent(`bench_${randomBytes(4).toString('hex')}`);
  const batchSize = options.batchSize ?? 500;
  const data = JSON.stringify({ text: 'x'.repeat(Math.max(0, (options.payloadBytes ?? 600) - 20)) });
  await pool.query(`CREATE SCHEMA ${schema}`);
  try {
    await pool.query(
      `CREATE TABLE ${schema}.events (id text PRIMARY KEY, instance text NOT NULL, type text NOT NULL, seq bigint,
        occurred_at timestamptz NOT NULL, data jsonb NOT NULL)`,
    );
    const started = process.hrtime.bigint();
    for (let offset = 0; offset < options.rows; offset += batchSize) {
      const n = Math.min(batchSize, options.rows - offset);
      const ids = Array.from({ length: n }, (_, i) => `raw-${offset + i}`);
      const seqs = Array.from({ length: n }, (_, i) => offset + i);
      await pool.query(
        `INSERT INTO ${schema}.events (id, instance, type, seq, occurred_at, data)
         SELECT id, 'phone-1', 'message.received', seq, now(), $3::jsonb FROM unnest($1::text[], $2::bigint[]) AS t(id, seq)
         ON CONFLICT (id) DO NOTHING`,
        [ids, seqs, data],
      );
    }
    return rate(options.rows, started);
  } finally {
    await pool.query(`DROP SCHEMA ${schema} CASCADE`);
  }
}

export interface HttpFigure extends RateFigure {
  latency: LatencySummary;
}

/**
 * POSTs per second to `url` with `concurrency` requests in flight over kept-alive connections,
 * through undici's request API as webhook-dispatch sends (since 2026-11-24 evening; node:http,
 * which the dispatcher used before, costs ~2× the CPU per request, and Node's fetch ~5×, so
 * neither would be a ceiling for it).
 */
export async function rawHttpPostRate(url: string, options: { count: number; concurrency?: number; payloadBytes?: number }): Promise<HttpFigure> {
  const body = samplePayload(options.payloadBytes);
  const concurrency = options.concurrency ?? 16;
  const target = new URL(url);
  const pool = new HttpPool(target.origin, { connections: concurrency });
  const path = `${target.pathname}${target.search}`;
  const post = async (): Promise<number> => {
    const res = await pool.request({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body });
    await res.body.dump();
    return res.statusCode;
  };
  const latencies: number[] = [];
  let next = 0;
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < options.count) {
      next++;
      const t0 = performance.now();
      const status = await post();
      if (status < 200 || status >= 300) throw new Error(`raw POST ceiling: ${url} answered ${status}`);
      latencies.push(performance.now() - t0);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await pool.destroy();
  }
  return { ...rate(options.count, started), latency: summarizeLatencies(latencies) };
}
