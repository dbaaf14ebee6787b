// `pnpm bench e2e [--events 20000] [--tenants 4] [--instances 4] [--rate 1000] [--duration 20]
// [--source publish|capture]`: the whole fleet as six processes on a private nats-server and a
// scratch database, fed by tenant publishing or through capture (Baileys' emitter in the capture
// process), delivering to a local receiver; beside it, the raw ceilings measured on the same servers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type JetStreamClient } from 'nats';
import { createPool, quoteIdent, tenantSchemaName } from '@switchyard/db';
import { createScratchDatabase, startNatsServer, TEST_DATABASE_URL } from '@switchyard/testing';
import { switchyardCli, createTenantWithEndpoint } from './fleet/cli.ts';
import { startCountingReceiver, type CountingReceiver } from './fleet/counting-receiver.ts';
import { captureSource, publishingSource, type LoadSource, type SourceName } from './fleet/load-source.ts';
import {
  SERVICE_NAMES,
  startProcessFleet,
  type ProcessFleet,
  type ServiceName,
} from './fleet/process-fleet.ts';
import {
  cpuSecondsBetween,
  cpuSecondsByPid,
  pidOfNatsServer,
  sampleProcess,
  usageBetween,
  type ProcSample,
  type ProcUsage,
} from './fleet/proc-stats.ts';
import {
  numberArg,
  progress,
  rawHttpPostRate,
  rawJetStreamPublishRate,
  rawPostgresInsertRate,
  ratio,
  round,
  runBench,
  stringArg,
  summarizeLatencies,
  type BenchArgs,
  type BenchContext,
} from './lib/mod.ts';

/** The bar the issue sets; reported, never asserted. */
const TARGETS = { throughput_ratio_min: 0.5, p99_publish_to_persisted_ms_max: 50 };

export default async function e2e(args: BenchArgs): Promise<void> {
  const events = Math.max(1, Math.round(numberArg(args, 'events', 20_000)));
  const tenantCount = Math.max(1, Math.round(numberArg(args, 'tenants', 4)));
  // WhatsApp numbers per tenant the load is spread over (round robin). One number does not send
  // hundreds of events a second, and per-instance order makes each one a serial lane downstream.
  const instanceCount = Math.max(1, Math.round(numberArg(args, 'instances', 4)));
  const rate = numberArg(args, 'rate', 1_000);
  const duration = numberArg(args, 'duration', 20);
  const timeoutMs = numberArg(args, 'timeout', 600) * 1000;
  const sourceName = stringArg(args, 'source', 'publish');
  if (sourceName !== 'publish' && sourceName !== 'capture')
    throw new Error(`--source must be publish or capture (got ${sourceName})`);
  await runBench('e2e', args, async (ctx) => {
    const nats = await startNatsServer();
    const database = await createScratchDatabase(
      process.env['BENCH_DATABASE_URL'] ?? TEST_DATABASE_URL,
    );
    const pool = createPool({ url: database.url, max: 4, applicationName: 'switchyard-bench' });
    const nc = await connect({ servers: nats.url });
    const receiver = await startCountingReceiver();
    // Capture's local spool, this run's own (a spool left by another run must not be replayed here).
    const spoolDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-spool-'));
    let fleet: ProcessFleet | undefined;
    try {
      const env = {
        NATS_URL: nats.url,
        DATABASE_URL: database.url,
        LOG_LEVEL: 'warn',
        DATABASE_POOL_MAX: '4',
        SHUTDOWN_TIMEOUT: '10s',
        // The receiver is on loopback, which webhook-dispatch's SSRF guard refuses unless allow-listed.
        WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
        CAPTURE_SPOOL_DIR: spoolDir,
      };
      // Ceilings first, on an idle machine: what NATS, Postgres and HTTP do with no Switchyard code.
      ctx.log(
        `raw ceilings: JetStream publish ${events}, Postgres insert ${events}, HTTP POST ${Math.min(events, 10_000)}`,
      );
      const rawPublish = await rawJetStreamPublishRate(nc, { count: events });
      const rawInsert = await rawPostgresInsertRate(pool, { rows: events });
      const rawPost = await rawHttpPostRate(receiver.url, { count: Math.min(events, 10_000) });

      ctx.log('migrating and starting the fleet (six processes)');
      await switchyardCli(['migrate'], env);
      // --source capture: the capture process also plays the WhatsApp sockets (capture-feed.ts).
      fleet = await startProcessFleet(
        sourceName === 'capture'
          ? { env, entries: { capture: 'bench/fleet/capture-feed.ts' }, ipc: ['capture'] }
          : { env },
      );
      const tenants = Array.from({ length: tenantCount }, (_, i) => `bench${i + 1}`);
      for (const tenant of tenants)
        await createTenantWithEndpoint(env, tenant, `${receiver.url}/hooks/${tenant}`);
      const js = nc.jetstream();
      const source = sourceFor(sourceName, fleet, js, tenants, instanceCount);
      const run = (phase: string, ids: readonly string[], label: string, options: PhaseOptions = {}) =>
        runPhase(ctx, { pool, receiver, tenants, source, timeoutMs }, phase, ids, label, options);

      // Warm-up: every durable exists (capture: every session attached), every code path is
      // compiled, before anything is timed.
      await run('warm', source.ids('warm', 20 * tenantCount), 'warm-up');

      const before = await sampleFleet(fleet);
      const cpuBefore = process.cpuUsage();

      // Throughput: N events as fast as the source takes them, timed to the last row and the last receipt.
      ctx.log(`throughput: ${events} events over ${tenantCount} tenants (${source.label})`);
      const startedAt = Date.now();
      const throughputIds = source.ids('tp', events);
      const throughput = await run('tp', throughputIds, 'persisted and received');
      const persistedEnd = await lastStoredAt(pool, tenants, source, 'tp');
      const receivedEnd = throughputIds.reduce((last, id) => Math.max(last, receiver.receipts.get(id)!.firstAt), 0);
      const persistedSeconds = (persistedEnd - startedAt) / 1000;
      const receivedSeconds = (receivedEnd - startedAt) / 1000;

      // Latency at a fixed offered rate, below saturation: what one event waits on a loaded fleet.
      // Core subscriptions on INGEST and EVENTS time each event's arrival there, splitting the
      // path into its hops: publish → INGEST (the publisher and NATS), INGEST → EVENTS (the
      // router) and EVENTS → stored (persistence).
      const offeredIds = source.ids('lat', Math.round(rate * duration));
      const latencyIds = new Set(offeredIds);
      const reachedEvents = new Map<string, number>();
      const reachedIngest = new Map<string, number>();
      const tap = (into: Map<string, number>) => (_err: unknown, msg: { data: Uint8Array }) => {
        const at = Date.now();
        const { id } = JSON.parse(new TextDecoder().decode(msg.data)) as { id: string };
        if (latencyIds.has(id)) into.set(id, at);
      };
      const ingestTap = nc.subscribe('v1.ingest.>', { callback: tap(reachedIngest) });
      const eventsTap = nc.subscribe('v1.events.>', { callback: tap(reachedEvents) });
      ctx.log(`latency: ${rate}/s for ${duration}s`);
      // The cores each process used while the rate was offered: on a machine this size they share
      // two cores, and what one of them uses is what the others' p99 waits for.
      const natsPid = await pidOfNatsServer(nats.port);
      const offeredCpu = await cpuAt(fleet, natsPid);
      let offeredCores: Record<string, number | null> | undefined;
      await run('lat', offeredIds, 'persisted and received', {
        rate,
        afterSend: async () => {
          offeredCores = coresBetween(offeredCpu, await cpuAt(fleet!, natsPid));
        },
      });
      eventsTap.unsubscribe();
      ingestTap.unsubscribe();
      const persistedLatency = await storedLatencies(pool, tenants, source, 'lat');
      const capturedAt = await eventTimes(pool, tenants, source, 'lat', 'captured_at');
      const storedAt = await eventTimes(pool, tenants, source, 'lat', 'stored_at');
      const publishHop: number[] = [];
      const routerHop: number[] = [];
      const persistenceHop: number[] = [];
      for (const [id, at] of reachedEvents) {
        const captured = capturedAt.get(id);
        const ingested = reachedIngest.get(id);
        const stored = storedAt.get(id);
        if (captured !== undefined && ingested !== undefined) publishHop.push(ingested - captured);
        if (ingested !== undefined) routerHop.push(at - ingested);
        if (stored !== undefined) persistenceHop.push(stored - at);
      }
      const receivedLatency = offeredIds.flatMap((id) => {
        const at = capturedAt.get(id);
        const receipt = receiver.receipts.get(id);
        return at === undefined || receipt === undefined ? [] : [receipt.firstAt - at];
      });

      const after = await sampleFleet(fleet);
      const cpuAfter = process.cpuUsage(cpuBefore);
      const services = Object.fromEntries(
        SERVICE_NAMES.flatMap((name): [ServiceName, ProcUsage][] => {
          const b = before.get(name);
          const a = after.get(name);
          return b && a ? [[name, usageBetween(b, a)]] : [];
        }),
      );
      const persistedPerSecond = Math.round(events / persistedSeconds);
      const receivedPerSecond = Math.round(events / receivedSeconds);
      const persistedSummary = summarizeLatencies(persistedLatency);
      const duplicates = [...receiver.receipts.values()].filter((r) => r.count > 1).length;
      return {
        throughput_ratio: ratio(persistedPerSecond, rawPublish.per_second),
        webhook_throughput_ratio: ratio(receivedPerSecond, rawPublish.per_second),
        webhook_vs_raw_http_ratio: ratio(receivedPerSecond, rawPost.per_second),
        persist_vs_raw_insert_ratio: ratio(persistedPerSecond, rawInsert.per_second),
        config: {
          events,
          tenants: tenantCount,
          instances_per_tenant: instanceCount,
          rate,
          duration_s: duration,
          source: source.label,
        },
        throughput: {
          published_per_second: Math.round(events / throughput.sendSeconds),
          persisted_per_second: persistedPerSecond,
          persisted_seconds: round(persistedSeconds),
          received_per_second: receivedPerSecond,
          received_seconds: round(receivedSeconds),
        },
        latency: {
          offered_per_second: rate,
          sent: offeredIds.length,
          publish_to_persisted: persistedSummary,
          publish_to_received: summarizeLatencies(receivedLatency),
          hops: {
            publish_to_ingest: summarizeLatencies(publishHop),
            ingest_to_events: summarizeLatencies(routerHop),
            events_to_persisted: summarizeLatencies(persistenceHop),
          },
          cpu_cores_while_offered: offeredCores ?? null,
        },
        webhook_redeliveries: duplicates,
        targets: {
          ...TARGETS,
          throughput_ratio_met:
            ratio(persistedPerSecond, rawPublish.per_second) >= TARGETS.throughput_ratio_min,
          p99_met: persistedSummary.p99_ms < TARGETS.p99_publish_to_persisted_ms_max,
        },
        services,
        bench_process_cpu_seconds: round((cpuAfter.user + cpuAfter.system) / 1e6),
        raw_jetstream_publish: rawPublish,
        raw_postgres_insert: rawInsert,
        raw_http_post: rawPost,
      };
    } finally {
      await fleet?.stop();
      await receiver.close();
      await nc.close();
      await pool.end();
      await nats.stop();
      await database.drop();
      rmSync(spoolDir, { recursive: true, force: true });
    }
  });
}

function sourceFor(name: SourceName, fleet: ProcessFleet, js: JetStreamClient, tenants: readonly string[], instances: number): LoadSource {
  if (name === 'publish') return publishingSource(js, tenants, instances);
  const feed = fleet.services.get('capture')?.child;
  if (feed === undefined) throw new Error('the capture process is not running');
  return captureSource(feed, tenants, instances);
}

interface PhaseDeps {
  pool: ReturnType<typeof createPool>;
  receiver: CountingReceiver;
  tenants: readonly string[];
  source: LoadSource;
  timeoutMs: number;
}

interface PhaseOptions {
  /** Open loop at this many events/s; absent: as fast as the source goes. */
  rate?: number;
  /** Runs once every event is handed over, before the wait for them. */
  afterSend?: () => Promise<void>;
}

/**
 * Sends a phase's events (`ids`: the source's ids of its first `ids.length`) with progress, then
 * waits until every one of them is persisted and received.
 */
async function runPhase(
  ctx: BenchContext,
  deps: PhaseDeps,
  phase: string,
  ids: readonly string[],
  label: string,
  { rate, afterSend }: PhaseOptions,
): Promise<{ sendSeconds: number }> {
  const sending = progress(rate === undefined ? `${phase} sent` : `${phase} offered`, ids.length);
  const { seconds } = await deps.source.send(phase, ids.length, { ...(rate !== undefined ? { rate } : {}), onProgress: (n) => sending.update(n) });
  sending.done();
  await afterSend?.();
  await waitFor(ctx, deps, phase, ids, label);
  return { sendSeconds: seconds };
}

interface CpuReading {
  at: number;
  services: Map<ServiceName, ProcSample>;
  nats: ProcSample | undefined;
  postgres: Map<number, number>;
  bench: NodeJS.CpuUsage;
}

async function cpuAt(fleet: ProcessFleet, natsPid: number | undefined): Promise<CpuReading> {
  return {
    at: performance.now(),
    services: await sampleFleet(fleet),
    nats: natsPid === undefined ? undefined : await sampleProcess(natsPid),
    postgres: await cpuSecondsByPid('postgres'),
    bench: process.cpuUsage(),
  };
}

/**
 * Cores per process between two readings (1 = one full core): each service, nats-server, every
 * `postgres` process on the machine (the bench's database has it to itself while it runs) and the
 * bench's own process (the load's publisher), and their total.
 */
function coresBetween(before: CpuReading, after: CpuReading): Record<string, number | null> {
  const seconds = (after.at - before.at) / 1000;
  const cores = (cpu: number | undefined): number | null => (cpu === undefined || seconds <= 0 ? null : round(cpu / seconds));
  const out: Record<string, number | null> = {};
  for (const name of SERVICE_NAMES) {
    const b = before.services.get(name);
    const a = after.services.get(name);
    out[name] = cores(a && b ? a.cpu_seconds - b.cpu_seconds : undefined);
  }
  out['nats_server'] = cores(before.nats && after.nats ? after.nats.cpu_seconds - before.nats.cpu_seconds : undefined);
  out['postgres'] = cores(cpuSecondsBetween(before.postgres, after.postgres));
  out['bench'] = cores((after.bench.user - before.bench.user + after.bench.system - before.bench.system) / 1e6);
  out['total'] = round(Object.values(out).reduce<number>((sum, v) => sum + (v ?? 0), 0));
  return out;
}

async function sampleFleet(fleet: ProcessFleet): Promise<Map<ServiceName, ProcSample>> {
  const out = new Map<ServiceName, ProcSample>();
  for (const name of SERVICE_NAMES) {
    const sample = await sampleProcess(fleet.pid(name));
    if (sample) out.set(name, sample);
  }
  return out;
}

/** Polls the tenants' events tables and the receiver until every id of the phase is in both. */
async function waitFor(ctx: BenchContext, deps: PhaseDeps, phase: string, ids: readonly string[], label: string): Promise<void> {
  const { pool, receiver, tenants, source, timeoutMs } = deps;
  const expected = ids.length;
  const bar = progress(`${phase} ${label}`, expected);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM (${unionOver(tenants, source, '1')}) s`,
      [source.match.pattern(phase)],
    );
    const persisted = Number(rows[0]?.n ?? 0);
    let receivedAll = 0;
    for (const id of ids) if (receiver.receipts.has(id)) receivedAll++;
    bar.update(Math.min(persisted, receivedAll));
    if (persisted >= expected && receivedAll >= expected) break;
    if (Date.now() > deadline) {
      throw new Error(
        `${label}: after ${timeoutMs / 1000}s only ${persisted} persisted and ${receivedAll} received of ${expected}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  bar.done();
  ctx.log(`${label}: ${expected} ${phase} events persisted and received`);
}

/** `select` over the phase's rows of every tenant's events table (the phase pattern is $1). */
function unionOver(tenants: readonly string[], source: LoadSource, select: string): string {
  return tenants
    .map((t) => `SELECT ${select} FROM ${quoteIdent(tenantSchemaName(t))}.events WHERE ${source.match.sql}`)
    .join(' UNION ALL ');
}

async function lastStoredAt(
  pool: ReturnType<typeof createPool>,
  tenants: readonly string[],
  source: LoadSource,
  phase: string,
): Promise<number> {
  const { rows } = await pool.query<{ at: Date }>(
    `SELECT max(stored_at) AS at FROM (${unionOver(tenants, source, 'stored_at')}) s`,
    [source.match.pattern(phase)],
  );
  return rows[0]!.at.getTime();
}

async function storedLatencies(
  pool: ReturnType<typeof createPool>,
  tenants: readonly string[],
  source: LoadSource,
  phase: string,
): Promise<number[]> {
  const { rows } = await pool.query<{ ms: number }>(
    `SELECT extract(epoch FROM stored_at - captured_at)::float8 * 1000 AS ms FROM (${unionOver(tenants, source, 'stored_at, captured_at')}) s`,
    [source.match.pattern(phase)],
  );
  return rows.map((r) => r.ms);
}

/**
 * Each event's `captured_at` (set by the publisher, or by capture when it maps the message) or
 * `stored_at` (the storing transaction's start: it defaults to now()), by id, in ms since the epoch.
 */
async function eventTimes(
  pool: ReturnType<typeof createPool>,
  tenants: readonly string[],
  source: LoadSource,
  phase: string,
  column: 'captured_at' | 'stored_at',
): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ id: string; at: Date }>(
    `SELECT id, ${column} AS at FROM (${unionOver(tenants, source, `id, ${column}`)}) s`,
    [source.match.pattern(phase)],
  );
  return new Map(rows.map((r) => [r.id, r.at.getTime()]));
}
