// `pnpm bench persistence [--events 20000] [--rows 1000000] [--requests 300] [--batch 500] [--out f.json]`:
// (1) events/s from EVENTS into Postgres through the real persistence service, beside the raw
// Postgres ceiling measured in the same run (`insert_ratio`, target ≥ 0.6): plain batch inserts
// of exactly the rows the service writes for this workload (event_ids, events, messages,
// onboarding) into a tenant schema of the same shape, one transaction per batch of `--batch`,
// measured before and after the service runs (the mean is the ceiling, so drift in a shared
// machine's load counts on both sides); the old events-only ceiling is kept beside it
// (`insert_ratio_events_only`); (2) GET /api/events p50/p95 on a tenant holding `--rows` events
// (target p95 < 20 ms for an indexed filter with limit 100). Figures are reported, never asserted.
import { connect } from 'nats';
import { createApiKey, deleteTenant, forTenant, provisionTenant } from '@switchyard/db';
import { announceTenant, publishEvent } from '@switchyard/nats';
import { durableName, eventsSubject, STREAMS } from '@switchyard/schema';
import { createTestPool, randomName, randomTenantId, startNatsServer, testLogger, testServiceEnv } from '@switchyard/testing';
import { startPersistence } from '../services/persistence/src/app.ts';
import { loadPersistenceConfig } from '../services/persistence/src/config.ts';
import { ensurePartitions, partitionFor } from '../services/persistence/src/partitions.ts';
import type pg from 'pg';
import { numberArg, progress, rawPostgresInsertRate, ratio, round, runBench, summarizeLatencies, type BenchArgs } from './lib/mod.ts';

const TARGETS = { insert_ratio_min: 0.6, query_p95_ms_max: 20 };
const WARM_UP_EVENTS = 2000;

export default async function persistence(args: BenchArgs): Promise<void> {
  const events = Math.max(1, Math.round(numberArg(args, 'events', 20_000)));
  const rows = Math.max(1000, Math.round(numberArg(args, 'rows', 1_000_000)));
  const requests = Math.max(10, Math.round(numberArg(args, 'requests', 300)));
  const batch = Math.max(1, Math.round(numberArg(args, 'batch', 500)));
  await runBench('persistence', args, async (ctx) => {
    const nats = await startNatsServer();
    const pool = await createTestPool({ max: 4 });
    const nc = await connect({ servers: nats.url });
    const js = nc.jetstream();
    const bucket = randomName('tenants');
    const ingestTenant = randomTenantId('bench');
    const warmTenant = randomTenantId('benchw');
    const queryTenant = randomTenantId('benchq');
    const ceilingTenants = [randomTenantId('benchr'), randomTenantId('benchr')] as const;
    const service = await startPersistence(
      loadPersistenceConfig(testServiceEnv(nats.url, { PERSISTENCE_BATCH_SIZE: String(batch), LOG_LEVEL: 'warn' })),
      { logger: testLogger('persistence'), tenantBucket: bucket },
    );
    const start = Date.UTC(2026, 0, 1);
    const months = [partitionFor(new Date(start)), partitionFor(new Date(start + events * 1000))];
    const jsm = await nc.jetstreamManager();
    /**
     * Publishes `count` events of `tenant` to EVENTS first and announces the tenant after, so the
     * time answered covers consuming and storing only: from the announcement until the durable has
     * nothing pending or unacked (the service acks only after the commit), asked of NATS so the
     * check adds no load to the Postgres being measured; the count in Postgres then confirms it.
     */
    const storeThroughService = async (tenant: string, count: number): Promise<number> => {
      await provisionTenant(pool, tenant);
      const published = progress(`publishing to EVENTS (${tenant})`, count);
      for (let i = 0; i < count; i += 256) {
        await Promise.all(
          Array.from({ length: Math.min(256, count - i) }, (_, k) => {
            const n = i + k;
            const envelope = benchEvent(tenant, n, new Date(start + n * 1000).toISOString());
            return publishEvent(js, eventsSubject(tenant, envelope.instance, envelope.type), new TextEncoder().encode(JSON.stringify(envelope)), { msgId: envelope.id });
          }),
        );
        published.update(Math.min(count, i + 256));
      }
      published.done();
      const db = forTenant(pool, tenant);
      // Months touched exist before the clock starts, as the retention job keeps them ahead in production.
      await ensurePartitions(db, months);
      const seqBefore = (await jsm.streams.info(STREAMS.events)).state.last_seq;
      const t0 = process.hrtime.bigint();
      await announceTenant(js, tenant, {}, { bucket });
      const stored = progress(`stored (${tenant})`, count);
      const durable = durableName('persistence', tenant);
      for (let polls = 1; ; polls++) {
        const info = await jsm.consumers.info(STREAMS.events, durable).catch(() => undefined);
        stored.update(info === undefined ? 0 : Math.max(0, count - info.num_pending - info.num_ack_pending));
        const drained = info !== undefined && info.num_pending === 0 && info.num_ack_pending === 0 && info.ack_floor.stream_seq >= seqBefore;
        // Every second regardless, should the stream hold anything besides this run's events.
        if (drained || polls % 50 === 0) {
          const n = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM :SCHEMA.event_ids')).rows[0]?.n ?? 0);
          if (n >= count) break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      stored.done();
      return Number(process.hrtime.bigint() - t0) / 1e9;
    };
    try {
      ctx.log(`raw Postgres batch insert, ${events} rows into an events-only table (the old ceiling)`);
      const rawEventsOnly = await rawPostgresInsertRate(pool, { rows: events });
      ctx.log(`raw Postgres batch insert of the rows persistence writes for ${events} events (before)`);
      const rawBefore = await rawSameRowsInsertRate(pool, ceilingTenants[0], months, events, batch);

      // Warm-up, as the e2e bench does: the service's code paths compiled and its connections open
      // before the clock starts, so the figure is its steady rate, not its JIT warm-up (the
      // ceiling's plain loop has next to nothing to compile).
      ctx.log(`warm-up: ${WARM_UP_EVENTS} events through the service for another tenant`);
      await storeThroughService(warmTenant, WARM_UP_EVENTS);
      const seconds = await storeThroughService(ingestTenant, events);
      const pipeline = { count: events, seconds: round(seconds), per_second: Math.round(events / seconds) };
      ctx.log(`raw Postgres batch insert of the rows persistence writes for ${events} events (after)`);
      const rawAfter = await rawSameRowsInsertRate(pool, ceilingTenants[1], months, events, batch);
      const raw = {
        count: rawBefore.count,
        seconds: round((rawBefore.seconds + rawAfter.seconds) / 2),
        per_second: Math.round((rawBefore.per_second + rawAfter.per_second) / 2),
        rows: rawBefore.rows,
        before: { seconds: rawBefore.seconds, per_second: rawBefore.per_second },
        after: { seconds: rawAfter.seconds, per_second: rawAfter.per_second },
      };

      ctx.log(`generating ${rows} events for the query tenant with one INSERT … SELECT per 100,000`);
      await provisionTenant(pool, queryTenant);
      const q = forTenant(pool, queryTenant);
      const qStart = Date.UTC(2025, 9, 1);
      const spanSeconds = 120 * 86_400;
      await ensurePartitions(q, Array.from({ length: 5 }, (_, m) => partitionFor(new Date(Date.UTC(2025, 9 + m, 1)))));
      const generated = progress('generated', rows);
      for (let from = 0; from < rows; from += 100_000) {
        const to = Math.min(rows, from + 100_000);
        await q.transaction(async (tx) => {
          await tx.query(
            `INSERT INTO :SCHEMA.events (id, instance, type, seq, source, occurred_at, captured_at, data)
             SELECT 'bq-' || g, 'phone-' || (g % 10), (ARRAY['message.received','message.sent','message.delivered','message.read','chat.updated'])[1 + g % 5],
                    g, 'baileys', to_timestamp($3::float8 + g * $4::float8), to_timestamp($3::float8 + g * $4::float8), jsonb_build_object('message_id', 'M' || g, 'text', repeat('x', 400))
               FROM generate_series($1::bigint, $2::bigint - 1) AS g`,
            [from, to, qStart / 1000, spanSeconds / rows],
          );
          await tx.query(
            `INSERT INTO :SCHEMA.event_ids (id, occurred_at) SELECT 'bq-' || g, to_timestamp($3::float8 + g * $4::float8) FROM generate_series($1::bigint, $2::bigint - 1) AS g`,
            [from, to, qStart / 1000, spanSeconds / rows],
          );
        });
        generated.update(to);
      }
      generated.done();
      await q.query('ANALYZE :SCHEMA.events');
      await q.query('ANALYZE :SCHEMA.event_ids');
      const key = (await createApiKey(pool, { tenant: queryTenant, role: 'read' })).key;
      const url = service.address.url;
      const measure = async (label: string, path: () => string) => {
        const latencies: number[] = [];
        for (let i = 0; i < requests; i++) {
          const t = performance.now();
          const res = await fetch(`${url}${path()}`, { headers: { authorization: `Bearer ${key}` } });
          await res.arrayBuffer();
          if (res.status !== 200) throw new Error(`${label}: ${res.status}`);
          if (i >= 5) latencies.push(performance.now() - t); // the first few warm the pool and plans
        }
        ctx.log(`${label}: p95 ${summarizeLatencies(latencies).p95_ms} ms`);
        return summarizeLatencies(latencies);
      };
      let i = 0;
      const queries = {
        instance_limit_100: await measure('instance filter', () => `/api/events?instance=phone-${i++ % 10}&limit=100`),
        type_limit_100: await measure('type filter', () => `/api/events?type=message.read&limit=100`),
        instance_type_range_limit_100: await measure('instance+type+range', () => `/api/events?instance=phone-3&type=message.sent&since=2025-11-01T00:00:00Z&until=2025-12-01T00:00:00Z&limit=100`),
        no_filter_limit_100: await measure('no filter', () => `/api/events?limit=100`),
        by_id: await measure('by id', () => `/api/events/bq-${(i++ * 7919) % rows}`),
      };
      return {
        insert_ratio: ratio(pipeline.per_second, raw.per_second),
        insert_ratio_events_only: ratio(pipeline.per_second, rawEventsOnly.per_second),
        persistence_events: pipeline,
        raw_postgres_insert: raw,
        raw_postgres_insert_events_only: rawEventsOnly,
        batch_size: batch,
        query_tenant_events: rows,
        query_latency_ms: queries,
        targets: TARGETS,
        note:
          'insert_ratio: EVENTS→Postgres through the service (pull, envelope parse and validation, exactly-once claims, partitioned log, state projections with their conflict rules, ack after commit) over plain batch inserts of the same rows (event_ids, events, messages, onboarding) into a tenant schema of the same shape, one transaction per batch, per_second the mean of a run before and one after the service; insert_ratio_events_only: the same over the old ceiling, unnest inserts of the events rows alone into a table with only a primary key',
      };
    } finally {
      await service.stop();
      const dropped = (tenant: string) => (err: unknown) => console.error(`bench persistence: dropping tenant ${tenant} failed (drop its schema by hand):`, err);
      for (const t of [ingestTenant, warmTenant, queryTenant, ...ceilingTenants]) await deleteTenant(pool, t).catch(dropped(t));
      await pool.end();
      await nc.close();
      await nats.stop();
    }
  });
}

function benchEvent(tenant: string, n: number, at: string) {
  return {
    id: `bench-${tenant}-${n}`,
    tenant,
    instance: `phone-${n % 4}`,
    type: 'message.received',
    schema_version: 1,
    occurred_at: at,
    captured_at: at,
    seq: Math.floor(n / 4) + 1,
    source: 'baileys',
    data: {
      message_id: `BM${n}`,
      chat_jid: `55119${String(n % 1000).padStart(8, '0')}@s.whatsapp.net`,
      from_me: false,
      timestamp: at,
      message_type: 'conversation',
      text: 'x'.repeat(380),
    },
  };
}

/**
 * The ceiling: the rows the service writes for `benchEvent`s, inserted with plain batch SQL (no
 * conflict handling, no projection, no validation) into a freshly provisioned tenant schema, so
 * the same tables, indexes and partitions; one transaction per batch, committed like the
 * service's. Per batch: event_ids and events (every event), messages (one per event), and
 * onboarding (the first message of each chat not seen before, as the service records it).
 */
async function rawSameRowsInsertRate(pool: pg.Pool, tenant: string, months: ReturnType<typeof partitionFor>[], count: number, batchSize: number) {
  await provisionTenant(pool, tenant);
  const db = forTenant(pool, tenant);
  await ensurePartitions(db, months);
  const start = Date.UTC(2026, 0, 1);
  const all = Array.from({ length: count }, (_, n) => benchEvent(tenant, n, new Date(start + n * 1000).toISOString()));
  const seenChats = new Set<string>();
  const rows = { event_ids: 0, events: 0, messages: 0, onboarding: 0 };
  const started = process.hrtime.bigint();
  for (let offset = 0; offset < count; offset += batchSize) {
    const batch = all.slice(offset, offset + batchSize);
    const firsts = batch.filter((e) => {
      if (seenChats.has(e.data.chat_jid)) return false;
      seenChats.add(e.data.chat_jid);
      return true;
    });
    await db.transaction(async (tx) => {
      await tx.query(`INSERT INTO :SCHEMA.event_ids (id, occurred_at) SELECT * FROM unnest($1::text[], $2::timestamptz[])`, [
        batch.map((e) => e.id),
        batch.map((e) => e.occurred_at),
      ]);
      await tx.query(
        `INSERT INTO :SCHEMA.events (id, instance, type, seq, source, occurred_at, captured_at, data)
         SELECT id, instance, type, seq, source, occurred_at, captured_at, data
           FROM jsonb_to_recordset($1::jsonb) AS r(id text, instance text, type text, seq bigint, source text, occurred_at timestamptz, captured_at timestamptz, data jsonb)`,
        [JSON.stringify(batch)],
      );
      await tx.query(
        `INSERT INTO :SCHEMA.messages (instance, message_id, chat_jid, from_me, message_type, text, sent_at, content_event_id, status, status_rank, status_at)
         SELECT instance, message_id, chat_jid, from_me, message_type, text, sent_at, content_event_id, 'received', 1, sent_at
           FROM jsonb_to_recordset($1::jsonb) AS r(instance text, message_id text, chat_jid text, from_me boolean, message_type text, text text, sent_at timestamptz, content_event_id text)`,
        [JSON.stringify(batch.map((e) => ({ instance: e.instance, ...e.data, sent_at: e.data.timestamp, content_event_id: e.id })))],
      );
      if (firsts.length > 0) {
        await tx.query(
          `INSERT INTO :SCHEMA.onboarding (instance, contact_jid, chat_jid, first_message_id, first_event_id, first_message_at)
           SELECT * FROM unnest($1::text[], $2::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])`,
          [firsts.map((e) => e.instance), firsts.map((e) => e.data.chat_jid), firsts.map((e) => e.data.message_id), firsts.map((e) => e.id), firsts.map((e) => e.data.timestamp)],
        );
      }
    });
    rows.event_ids += batch.length;
    rows.events += batch.length;
    rows.messages += batch.length;
    rows.onboarding += firsts.length;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { count, seconds: round(seconds), per_second: Math.round(count / seconds), rows };
}
