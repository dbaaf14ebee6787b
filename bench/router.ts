// `pnpm bench router [--events 20000] [--tenants-large 1000] [--phase-seconds 20] [--quiet-rate 20] [--fairness-rounds 3] [--drain-rounds 3]`:
// the router as its own process on a private nats-server, fed by tenant publishes; beside it the
// raw JetStream publish and consume rates measured on the same server in the same run.
import { randomBytes } from 'node:crypto';
import { AckPolicy, connect, DeliverPolicy, type JetStreamClient, type JsMsg, type NatsConnection, type Subscription } from 'nats';
import { announceTenant, retractTenant } from '@switchyard/nats';
import { ingestSubject, STREAMS } from '@switchyard/schema';
import { createScratchDatabase, freePort, startNatsServer, TEST_DATABASE_URL } from '@switchyard/testing';
import { messageEvent, offerAtRate, preparePublishWorker, publishAll, type OutgoingEvent, type ReadyPublisher } from './fleet/load.ts';
import { startProcessFleet, type ProcessFleet } from './fleet/process-fleet.ts';
import { pidOfNatsServer, runQueueMeter, sampleProcess } from './fleet/proc-stats.ts';
import {
  numberArg,
  onThrowawayStream,
  percentile,
  rawJetStreamAtomicPublishRate,
  rawJetStreamPublishRate,
  ratio,
  round,
  runBench,
  samplePayload,
  summarizeLatencies,
  type BenchArgs,
  type BenchContext,
  type LatencySummary,
  type RateFigure,
} from './lib/mod.ts';

/** The bars the issue sets; reported, never asserted. */
const TARGETS = { publish_ratio_min: 0.6, tenant_scaling_ratio_min: 0.7, fairness_p99_ratio_max: 2 };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Every EVENTS arrival, timed against the moment its INGEST publish started (one clock). */
class ArrivalClock {
  readonly sentAt = new Map<string, number>();
  readonly latencies = new Map<string, number[]>();
  /** With `hops`: when each event was stored in INGEST, and the two legs of its latency. */
  readonly #ingestAt = new Map<string, number>();
  readonly #toIngest: number[] = [];
  readonly #ingestToEvents: number[] = [];
  arrived = 0;
  firstArrivalMs = 0;
  lastArrivalMs = 0;
  readonly #subscriptions: Subscription[];

  /**
   * `tenants`: only theirs (the fairness phases watch the quiet tenants, not the flood); default all.
   * `hops`: also time each event's arrival in INGEST, to split its latency into publish → INGEST
   * (the publisher and nats-server) and INGEST → EVENTS (the router, and nats-server again).
   */
  constructor(nc: NatsConnection, tenants?: readonly string[], options: { hops?: boolean } = {}) {
    // Core subscriptions see every message JetStream stores under their subjects, as it is stored.
    const subjects = tenants === undefined ? ['v1.events.>'] : tenants.map((t) => `v1.events.${t}.>`);
    this.#subscriptions = subjects.map((subject) => nc.subscribe(subject, {
      callback: (_err, msg) => {
        const now = performance.now();
        const { id, tenant } = JSON.parse(decoder.decode(msg.data)) as { id: string; tenant: string };
        const sent = this.sentAt.get(id);
        if (sent === undefined) return;
        this.sentAt.delete(id);
        if (this.arrived++ === 0) this.firstArrivalMs = now;
        this.lastArrivalMs = now;
        const list = this.latencies.get(tenant) ?? [];
        list.push(now - sent);
        this.latencies.set(tenant, list);
        const stored = this.#ingestAt.get(id);
        if (stored !== undefined) {
          this.#ingestAt.delete(id);
          this.#toIngest.push(stored - sent);
          this.#ingestToEvents.push(now - stored);
        }
      },
    }));
    if (options.hops === true && tenants !== undefined) {
      for (const tenant of tenants) {
        this.#subscriptions.push(nc.subscribe(`v1.ingest.${tenant}.>`, {
          callback: (_err, msg) => {
            const id = msg.headers?.get('Nats-Msg-Id');
            if (id !== undefined && id !== '' && this.sentAt.has(id)) this.#ingestAt.set(id, performance.now());
          },
        }));
      }
    }
  }

  close(): void {
    for (const sub of this.#subscriptions) sub.unsubscribe();
  }

  reset(): void {
    this.latencies.clear();
    this.#ingestAt.clear();
    this.#toIngest.length = 0;
    this.#ingestToEvents.length = 0;
    this.arrived = 0;
    this.firstArrivalMs = 0;
  }

  of(tenants: readonly string[]): LatencySummary {
    return summarizeLatencies(this.samples(tenants));
  }

  /** The latencies (ms) of `tenants`' events since the last reset. */
  samples(tenants: readonly string[]): number[] {
    return tenants.flatMap((t) => this.latencies.get(t) ?? []);
  }

  /** The two legs (ms) of every timed event since the last reset (with `hops`). */
  hopSamples(): { publish_to_ingest: number[]; ingest_to_events: number[] } {
    return { publish_to_ingest: [...this.#toIngest], ingest_to_events: [...this.#ingestToEvents] };
  }

  async waitFor(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.arrived < count) {
      if (Date.now() > deadline) throw new Error(`only ${this.arrived} of ${count} events reached EVENTS within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Acknowledged pull-consume rate of one durable over `count` stored messages (explicit acks). */
async function rawJetStreamConsumeRate(nc: NatsConnection, count: number): Promise<RateFigure> {
  return onThrowawayStream(nc, 'consume', {}, async (name, subject) => {
    const payload = samplePayload();
    const js = nc.jetstream();
    let next = 0;
    await Promise.all(
      Array.from({ length: 256 }, async () => {
        while (next < count) {
          next++;
          await js.publish(subject, payload);
        }
      }),
    );
    const jsm = await nc.jetstreamManager();
    await jsm.consumers.add(name, { durable_name: 'raw', ack_policy: AckPolicy.Explicit, max_ack_pending: 10_000 });
    const consumer = await js.consumers.get(name, 'raw');
    const started = process.hrtime.bigint();
    const messages = await consumer.consume({ max_messages: 512 });
    let seen = 0;
    for await (const m of messages) {
      m.ack();
      if (++seen >= count) break;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { count, seconds: round(seconds), per_second: Math.round(count / seconds) };
  });
}

/**
 * When JetStream stored each message of `subjects` in `stream` since `since`, by its own clock
 * (the message's stream timestamp, ms), keyed by Nats-Msg-Id. Read after a phase through an
 * ordered consumer (headers only), so the reading adds nothing to the phase.
 */
async function storedTimes(js: JetStreamClient, stream: string, subjects: string[], since: Date): Promise<Map<string, number>> {
  const times = new Map<string, number>();
  const consumer = await js.consumers.get(stream, {
    filterSubjects: subjects,
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: since.toISOString(),
    headers_only: true,
  });
  const record = (m: JsMsg) => {
    // Realtime events only: a history batch keeps its id from INGEST to EVENTS, and in the
    // history phase its wait behind the 10,000-batch import is not a quiet event's latency.
    if (m.subject.split('.')[4] === 'history') return;
    const id = m.headers?.get('Nats-Msg-Id');
    if (id !== undefined && id !== '') times.set(id, m.info.timestampNanos / 1e6);
  };
  try {
    // Nothing stored since `since` under these subjects: a fetch would only wait.
    const first = await consumer.next({ expires: 2_000 });
    if (first === null) return times;
    record(first);
    let pending = first.info.pending;
    while (pending > 0) {
      const batch = await consumer.fetch({ max_messages: Math.min(pending, 1_000), expires: 5_000 });
      let got = 0;
      for await (const m of batch) {
        record(m);
        pending = m.info.pending;
        got++;
      }
      if (got === 0) throw new Error(`reading ${stream}: ${pending} messages announced but none came`);
    }
    return times;
  } finally {
    // Now, not after its inactivity threshold: the bench counts INGEST's consumers.
    await consumer.delete();
  }
}

/**
 * The quiet tenants' INGEST → EVENTS latencies (ms) by JetStream's own timestamps: stored in
 * INGEST to stored in EVENTS, the issue's leg on the server's clock. Neither the bench's own
 * scheduling (its thread waiting for a core, its GC) nor the EVENTS → bench delivery is in it.
 */
async function storedLatencies(js: JetStreamClient, tenants: readonly string[], since: Date): Promise<number[]> {
  const ingest = await storedTimes(js, STREAMS.ingest, tenants.map((t) => `v1.ingest.${t}.>`), since);
  const routed = await storedTimes(js, STREAMS.events, tenants.map((t) => `v1.events.${t}.>`), since);
  const latencies: number[] = [];
  for (const [id, storedAt] of routed) {
    const ingestedAt = ingest.get(id);
    if (ingestedAt !== undefined) latencies.push(storedAt - ingestedAt);
  }
  return latencies;
}

function tenantIds(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);
}

/** `total` message.received events spread round-robin over tenants and two instances each. */
function spread(tenants: readonly string[], total: number, run: string, seqs: Map<string, number>): OutgoingEvent[] {
  return Array.from({ length: total }, (_, i) => {
    const tenant = tenants[i % tenants.length]!;
    const instance = `phone-${Math.floor(i / tenants.length) % 2}`;
    const key = `${tenant}.${instance}`;
    const seq = (seqs.get(key) ?? 0) + 1;
    seqs.set(key, seq);
    return messageEvent(tenant, instance, `${run}-${i}`, seq);
  });
}

async function timedPublish(js: JetStreamClient, clock: ArrivalClock, events: OutgoingEvent[]): Promise<void> {
  const started = performance.now();
  for (const e of events) clock.sentAt.set(e.id, started);
  await publishAll(js, events, 256);
}

async function ingestConsumers(nc: NatsConnection): Promise<number> {
  const jsm = await nc.jetstreamManager();
  return (await jsm.streams.info(STREAMS.ingest)).state.consumer_count;
}

/** Waits until INGEST has at least (or, `atMost`, at most) `want` consumers; answers how long it took. */
async function waitConsumers(nc: NatsConnection, want: number, timeoutMs: number, atMost = false): Promise<number> {
  const started = performance.now();
  for (;;) {
    const have = await ingestConsumers(nc).catch(() => 0);
    if (atMost ? have <= want : have >= want) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`${have} INGEST consumers after ${timeoutMs} ms, waiting for ${atMost ? 'at most' : 'at least'} ${want}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Retracts `tenants` and waits until the router has deleted their durables, so later phases count none of theirs. */
async function retireTenants(nc: NatsConnection, tenants: readonly string[], remaining: number, timeoutMs: number): Promise<void> {
  const js = nc.jetstream();
  for (const t of tenants) await retractTenant(js, t);
  await waitConsumers(nc, remaining, timeoutMs, true);
}

export default async function router(args: BenchArgs): Promise<void> {
  const events = Math.max(1_000, Math.round(numberArg(args, 'events', 20_000)));
  const largeTenants = Math.max(10, Math.round(numberArg(args, 'tenants-large', 1_000)));
  // 20 s: 3,600 quiet events a phase, so a p99 is not decided by a dozen samples (8 s read ×1.3–3 run to run).
  const phaseSeconds = numberArg(args, 'phase-seconds', 20);
  const quietRate = numberArg(args, 'quiet-rate', 20);
  // The fairness phases (baseline, flood, its control, poison) take turns this many times, and
  // each kind's samples are pooled: a slow minute of the machine lands in every kind, not in one.
  const fairnessRounds = Math.max(1, Math.round(numberArg(args, 'fairness-rounds', 3)));
  // Drains of a 20,000-event backlog, each right after its own raw publish ceiling (publish_ratio).
  const drainRoundCount = Math.max(1, Math.round(numberArg(args, 'drain-rounds', 3)));
  const timeoutMs = numberArg(args, 'timeout', 300) * 1000;

  await runBench('router', args, async (ctx: BenchContext) => {
    const monitorPort = await freePort();
    const nats = await startNatsServer({ args: ['-m', String(monitorPort)] });
    const database = await createScratchDatabase(process.env['BENCH_DATABASE_URL'] ?? TEST_DATABASE_URL);
    const nc = await connect({ servers: nats.url });
    const js = nc.jetstream();
    let clock = new ArrivalClock(nc);
    const env = { NATS_URL: nats.url, DATABASE_URL: database.url, LOG_LEVEL: 'warn', DATABASE_POOL_MAX: '2', SHUTDOWN_TIMEOUT: '10s' };
    // ROUTER_* settings in the bench's environment reach the router (to compare tunings).
    const routerSettings = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('ROUTER_') && e[1] !== undefined));
    let fleet: ProcessFleet | undefined;
    const startRouter = async (extra: Record<string, string> = {}) => {
      const started = performance.now();
      fleet = await startProcessFleet({ env: { ...env, ...routerSettings, ...extra }, services: ['router'], readyTimeoutMs: timeoutMs });
      return performance.now() - started;
    };
    const stopRouter = async () => {
      await fleet?.stop();
      fleet = undefined;
    };
    const seqs = new Map<string, number>();
    const serverPid = await pidOfNatsServer(nats.port);
    try {
      ctx.log(`raw ceilings: JetStream publish, consume and atomic-batch publish, ${events} messages each`);
      const rawPublish = await rawJetStreamPublishRate(nc, { count: events });
      const rawConsume = await rawJetStreamConsumeRate(nc, events);
      const rawAtomic = await rawJetStreamAtomicPublishRate(nc, { count: events, batch: 256, publishers: 10 });

      // ---- 10 tenants: throughput, then fairness on the same router ----
      const ten = tenantIds('small', 10);
      for (const t of ten) await announceTenant(js, t);
      await startRouter();
      await waitConsumers(nc, ten.length * 2 + 1, timeoutMs);
      ctx.log(`10 tenants: ${events} events`);
      const tp10 = await throughput(js, clock, spread(ten, events, 'ten', seqs), timeoutMs, fleet!.pid('router'), serverPid);

      const quiet = ten.slice(1);
      const flooder = ten[0]!;
      // The flood's control: the same load spread evenly over ten more tenants, which exist only
      // for the fairness phases. What the quiet tenants lose beside it is the machine's load;
      // what they lose beyond it beside the flood is the flood being one tenant's.
      const spreaders = tenantIds('spread', 10);
      for (const t of spreaders) await announceTenant(js, t);
      await waitConsumers(nc, (ten.length + spreaders.length) * 2 + 1, timeoutMs);
      // The quiet tenants' latency is what is measured: the bench watches only their EVENTS
      // subjects, and the load beside them (flood, poison, import) is published from a worker
      // thread, so neither the flood's arrivals nor its publishing delay the timing of theirs.
      clock.close();
      const quietClock = new ArrivalClock(nc, quiet, { hops: true });
      // Ids must be unique per phase and generator (Nats-Msg-Id dedupe) and valid event ids.
      const quietLoad = (run: string) =>
        offerAtRate(js, {
          rate: quietRate * quiet.length,
          seconds: phaseSeconds,
          make: (i) => {
            const e = spread([quiet[i % quiet.length]!], 1, `quiet-${run}-${i}`, seqs)[0]!;
            quietClock.sentAt.set(e.id, performance.now());
            return e;
          },
        });
      const phase = async (name: string, beside?: Promise<ReadyPublisher>): Promise<PhaseSamples> => {
        ctx.log(`fairness: ${name} (${phaseSeconds}s, quiet tenants ${quietRate}/s each)`);
        // The load beside is a worker thread, started and connected before the window opens.
        const publisher = await beside;
        // Each phase starts from the same state of this process: the arrival timer runs here, and
        // a major collection of the earlier phases' garbage would count as the router's latency.
        (globalThis as { gc?: () => void }).gc?.();
        await new Promise((r) => setTimeout(r, 500));
        quietClock.reset();
        const since = new Date();
        const cpu = await cpuMeter(fleet!.pid('router'), serverPid);
        const waits = { router: await runQueueMeter(fleet!.pid('router')), server: await runQueueMeter(serverPid), bench: await runQueueMeter(process.pid) };
        const started = performance.now();
        await Promise.all([quietLoad(name.replace(/[^A-Za-z0-9]+/g, '_')), publisher?.go()]);
        await quietClock.waitFor(Math.round(quietRate * quiet.length * phaseSeconds), timeoutMs).catch((err: unknown) => ctx.log(String(err)));
        const seconds = (performance.now() - started) / 1000;
        // Read at the window's end, before the stored timestamps are fetched.
        const used: PhaseCores = {
          ...(await cpu.cores(seconds)),
          router_runqueue_wait_ms_per_s: await waits.router.msPerSecond(seconds),
          nats_server_runqueue_wait_ms_per_s: await waits.server.msPerSecond(seconds),
          bench_runqueue_wait_ms_per_s: await waits.bench.msPerSecond(seconds),
        };
        const stored = await storedLatencies(js, quiet, since);
        return { all: quietClock.samples(quiet), ...quietClock.hopSamples(), stored_ingest_to_events: stored, ...used };
      };
      const besideRate = quietRate * 100;
      const besideCount = Math.round(besideRate * phaseSeconds);
      const pooled = { baseline: [] as PhaseSamples[], flood: [] as PhaseSamples[], spread: [] as PhaseSamples[], poison: [] as PhaseSamples[] };
      const rounds: FairnessRound[] = [];
      for (let r = 1; r <= fairnessRounds; r++) {
        const tag = fairnessRounds > 1 ? ` (round ${r} of ${fairnessRounds})` : '';
        const baseline = await phase(`baseline${tag}`);
        const floodEvents = Array.from({ length: besideCount }, (_, i) => spread([flooder], 1, `flooder-${r}-${i}`, seqs)[0]!);
        const flood = await phase(`flood${tag}`, preparePublishWorker({ url: nats.url, events: floodEvents, rate: besideRate }));
        const spreadEvents = spread(spreaders, besideCount, `spread-${r}`, seqs);
        const spreadLoad = await phase(`same load spread over ${spreaders.length} tenants${tag}`, preparePublishWorker({ url: nats.url, events: spreadEvents, rate: besideRate }));
        const poisonEvents: OutgoingEvent[] = Array.from({ length: besideCount }, (_, i) => ({
          id: `poison-${r}-${i}`,
          tenant: flooder,
          instance: 'phone-0',
          subject: ingestSubject(flooder, 'phone-0', 'message.received'),
          bytes: encoder.encode(`{"not json ${r}.${i}`),
        }));
        const poison = await phase(`poison burst${tag}`, preparePublishWorker({ url: nats.url, events: poisonEvents, rate: besideRate }));
        pooled.baseline.push(baseline);
        pooled.flood.push(flood);
        pooled.spread.push(spreadLoad);
        pooled.poison.push(poison);
        // One round's ratios by one measure: publish → EVENTS on the bench's clock, or the stored leg.
        const ratiosBy = (key: 'all' | 'stored_ingest_to_events'): RoundRatios => {
          const p99 = (s: PhaseSamples) => percentile(s[key], 99);
          const alone = p99(baseline);
          return {
            baseline_p99_ms: round(alone),
            flood_p99_ratio: ratio(p99(flood), alone),
            spread_load_p99_ratio: ratio(p99(spreadLoad), alone),
            poison_p99_ratio: ratio(p99(poison), alone),
          };
        };
        const thisRound: FairnessRound = { ...ratiosBy('all'), stored: ratiosBy('stored_ingest_to_events') };
        rounds.push(thisRound);
        ctx.log(`fairness round ${r}: quiet p99 ${thisRound.baseline_p99_ms} ms alone, ×${thisRound.flood_p99_ratio} beside the flood, ×${thisRound.spread_load_p99_ratio} beside the same load spread, ×${thisRound.poison_p99_ratio} beside the poison`);
        const st = thisRound.stored;
        ctx.log(`fairness round ${r}, INGEST → EVENTS by JetStream's timestamps: p99 ${st.baseline_p99_ms} ms alone, ×${st.flood_p99_ratio} flood, ×${st.spread_load_p99_ratio} spread, ×${st.poison_p99_ratio} poison`);
      }
      const baseline = summarizePhases(pooled.baseline);
      const flood = summarizePhases(pooled.flood);
      const spreadLoad = summarizePhases(pooled.spread);
      const poison = summarizePhases(pooled.poison);
      // A 10,000-batch history import on one quiet tenant, published as fast as NATS takes it.
      const importer = quiet[0]!;
      const history = summarizePhases([await phase('history import', preparePublishWorker({ url: nats.url, events: historyBatches(importer, 10_000), window: 256 }))]);
      const importerLatency = quietClock.of([importer]);
      quietClock.close();
      await retireTenants(nc, spreaders, ten.length * 2 + 1, timeoutMs);
      clock = new ArrivalClock(nc);

      // ---- INGEST → EVENTS alone: a backlog of 10 new tenants, published before they exist ----
      // Each round measures the raw publish ceiling right before its drain: the machine's speed
      // drifts by ×2 over minutes, so a ceiling taken at the start says little about a drain
      // minutes later. Both are pooled over the rounds; the drained tenants are retired after each.
      const drainRounds: DrainRound[] = [];
      for (let r = 1; r <= drainRoundCount; r++) {
        ctx.log(`10 new tenants (drain round ${r} of ${drainRoundCount}): the raw publish ceiling, then ${events} events published before the tenants are announced, then drained`);
        const raw = await rawJetStreamPublishRate(nc, { count: events });
        const drainers = tenantIds(`drain${r}`, 10);
        const drained = await drain(nc, clock, drainers, spread(drainers, events, `drain${r}`, seqs), timeoutMs, fleet!.pid('router'), serverPid);
        const thisRound: DrainRound = { raw_jetstream_publish: raw, drain: drained, publish_ratio: ratio(drained.per_second, raw.per_second) };
        drainRounds.push(thisRound);
        ctx.log(`drain round ${r}: ${drained.per_second}/s against raw ${raw.per_second}/s (×${thisRound.publish_ratio})`);
        await retireTenants(nc, drainers, ten.length * 2 + 1, timeoutMs);
      }
      const drain10 = pooledDrain(drainRounds);
      const drainCeiling = pooledRate(drainRounds.map((d) => d.raw_jetstream_publish));

      // ---- the previous design, for comparison: one message of a tenant in flight ----
      await stopRouter();
      await startRouter({ ROUTER_MAX_ACK_PENDING: '1', ROUTER_BATCH_SIZE: '1' });
      ctx.log('10 tenants, ROUTER_MAX_ACK_PENDING=1 (one message per tenant in flight: the design before partition ownership)');
      const tpOneInFlight = await throughput(js, clock, spread(ten, events, 'one_in_flight', seqs), timeoutMs, fleet!.pid('router'), serverPid);

      // ---- 1,000 tenants: start time, idle cost, throughput with the same total load ----
      await stopRouter();
      const many = [...ten, ...tenantIds('large', largeTenants - ten.length)];
      for (const t of many.slice(ten.length)) await announceTenant(js, t);
      ctx.log(`${many.length} tenants: starting the router`);
      const readyMs = await startRouter();
      const consumersMs = await waitConsumers(nc, many.length * 2 + 1, timeoutMs);
      await new Promise((r) => setTimeout(r, 5_000));
      const routerIdle = await sampleProcess(fleet!.pid('router'));
      const serverIdle = serverPid !== undefined ? await sampleProcess(serverPid) : undefined;
      const varz = (await (await fetch(`http://127.0.0.1:${monitorPort}/varz`)).json()) as { mem: number };
      const consumerCount = await ingestConsumers(nc);
      ctx.log(`${many.length} tenants: ${events} events`);
      const tpMany = await throughput(js, clock, spread(many, events, 'many', seqs), timeoutMs, fleet!.pid('router'), serverPid);

      // The same tenants with one single-filter durable each (history inline): what the
      // realtime durables' filter lists cost the server at this tenant count.
      await stopRouter();
      await startRouter({ ROUTER_INGEST_LAYOUT: 'single' });
      await waitConsumers(nc, many.length * 2 + 1, timeoutMs);
      ctx.log(`${many.length} tenants, one single-filter durable each: ${events} events`);
      const tpManySingle = await throughput(js, clock, spread(many, events, 'single', seqs), timeoutMs, fleet!.pid('router'), serverPid);

      return {
        targets: TARGETS,
        publish_ratio: ratio(drain10.per_second, drainCeiling.per_second),
        // The router drains through atomic batches: the same hop against that kind of write alone.
        publish_ratio_vs_atomic: ratio(drain10.per_second, rawAtomic.per_second),
        // Publishing the load and routing it at once, on the same two cores.
        live_publish_ratio: ratio(tp10.per_second, rawPublish.per_second),
        tenant_scaling_ratio: ratio(tpMany.per_second, tp10.per_second),
        tenant_scaling_ratio_single_filter: ratio(tpManySingle.per_second, tp10.per_second),
        fairness_flood_p99_ratio: ratio(flood.p99_ms, baseline.p99_ms),
        fairness_poison_p99_ratio: ratio(poison.p99_ms, baseline.p99_ms),
        fairness_history_import_p99_ratio: ratio(history.p99_ms, baseline.p99_ms),
        // The control: the flood's load spread over ten tenants, and the flood against it.
        fairness_spread_load_p99_ratio: ratio(spreadLoad.p99_ms, baseline.p99_ms),
        fairness_flood_vs_spread_load_p99_ratio: ratio(flood.p99_ms, spreadLoad.p99_ms),
        // The issue's own leg: stored in INGEST → stored in EVENTS (the router and the EVENTS write).
        fairness_flood_ingest_to_events_p99_ratio: ratio(flood.hops.ingest_to_events.p99_ms, baseline.hops.ingest_to_events.p99_ms),
        fairness_poison_ingest_to_events_p99_ratio: ratio(poison.hops.ingest_to_events.p99_ms, baseline.hops.ingest_to_events.p99_ms),
        // The same leg by JetStream's own timestamps (stored in INGEST → stored in EVENTS).
        fairness_flood_stored_ingest_to_events_p99_ratio: ratio(flood.hops.stored_ingest_to_events.p99_ms, baseline.hops.stored_ingest_to_events.p99_ms),
        fairness_spread_load_stored_ingest_to_events_p99_ratio: ratio(spreadLoad.hops.stored_ingest_to_events.p99_ms, baseline.hops.stored_ingest_to_events.p99_ms),
        fairness_poison_stored_ingest_to_events_p99_ratio: ratio(poison.hops.stored_ingest_to_events.p99_ms, baseline.hops.stored_ingest_to_events.p99_ms),
        // Strict order used to mean one message in flight per tenant; now it is the owner's batches.
        // This is what the old way achieves relative to the new one (the same load, same run).
        ordering_cost_ratio: ratio(tpOneInFlight.per_second, tp10.per_second),
        publish_ratio_one_in_flight: ratio(tpOneInFlight.per_second, rawPublish.per_second),
        raw: { jetstream_publish: rawPublish, jetstream_consume: rawConsume, jetstream_atomic_publish: { ...rawAtomic, batch: 256, publishers: 10 } },
        tenants_10: tp10,
        tenants_10_drain: { ...drain10, raw_jetstream_publish: drainCeiling, rounds: drainRounds },
        [`tenants_${many.length}`]: {
          ...tpMany,
          router_ready_ms: Math.round(readyMs),
          all_consumers_ms: Math.round(readyMs + consumersMs),
          ingest_consumers: consumerCount,
          router_idle_rss_mib: routerIdle?.rss_mib ?? null,
          nats_server_idle_rss_mib: serverIdle?.rss_mib ?? null,
          nats_server_mem_mib: round(varz.mem / 2 ** 20, 1),
        },
        [`tenants_${many.length}_single_filter`]: tpManySingle,
        tenants_10_max_ack_pending_1: tpOneInFlight,
        fairness: {
          quiet_tenants: quiet.length,
          quiet_rate_per_tenant: quietRate,
          flood_rate: quietRate * 100,
          phase_seconds: phaseSeconds,
          rounds,
          baseline,
          flood,
          spread_load: { tenants: spreaders.length, ...spreadLoad },
          poison,
          history_import: { quiet_tenants: history, importing_tenant_realtime: importerLatency, batches: 10_000 },
        },
      };
    } finally {
      await stopRouter();
      await nc.drain();
      await nats.stop();
      await database.drop();
    }
  });
}

interface PhaseCores {
  router_cpu_cores: number | null;
  nats_server_cpu_cores: number | null;
  /**
   * Milliseconds per second the process's threads, added up, were runnable but waiting for a
   * core (schedstat): the time the machine's two cores, not the process, held its work back.
   */
  router_runqueue_wait_ms_per_s: number | null;
  nats_server_runqueue_wait_ms_per_s: number | null;
  bench_runqueue_wait_ms_per_s: number | null;
}

/** One fairness phase: the quiet tenants' latencies (ms), publish → EVENTS and its two legs, and the CPU used meanwhile. */
interface PhaseSamples extends PhaseCores {
  all: number[];
  publish_to_ingest: number[];
  ingest_to_events: number[];
  /** Stored in INGEST → stored in EVENTS, by JetStream's timestamps (storedLatencies). */
  stored_ingest_to_events: number[];
}

interface RoundRatios {
  baseline_p99_ms: number;
  flood_p99_ratio: number;
  spread_load_p99_ratio: number;
  poison_p99_ratio: number;
}

interface FairnessRound extends RoundRatios {
  /** The same round by JetStream's timestamps, stored in INGEST → stored in EVENTS. */
  stored: RoundRatios;
}

/** Phases of one kind pooled: the latency summary with its two legs. */
function summarizePhases(
  phases: readonly PhaseSamples[],
): LatencySummary & PhaseCores & { hops: { publish_to_ingest: LatencySummary; ingest_to_events: LatencySummary; stored_ingest_to_events: LatencySummary } } {
  const pool = (key: 'all' | 'publish_to_ingest' | 'ingest_to_events' | 'stored_ingest_to_events') => summarizeLatencies(phases.flatMap((p) => p[key]));
  const mean = (key: keyof PhaseCores) => meanOfAll(phases.map((p) => p[key]), 3);
  return {
    ...pool('all'),
    router_cpu_cores: mean('router_cpu_cores'),
    nats_server_cpu_cores: mean('nats_server_cpu_cores'),
    router_runqueue_wait_ms_per_s: mean('router_runqueue_wait_ms_per_s'),
    nats_server_runqueue_wait_ms_per_s: mean('nats_server_runqueue_wait_ms_per_s'),
    bench_runqueue_wait_ms_per_s: mean('bench_runqueue_wait_ms_per_s'),
    hops: { publish_to_ingest: pool('publish_to_ingest'), ingest_to_events: pool('ingest_to_events'), stored_ingest_to_events: pool('stored_ingest_to_events') },
  };
}

interface Throughput extends RateFigure {
  latency: LatencySummary;
  /** CPU the router process spent per routed event: comparable across machines and loads. */
  router_cpu_us_per_event: number | null;
  router_cpu_cores: number | null;
  nats_server_cpu_us_per_event: number | null;
}

/**
 * The router's hop alone, as the raw ceiling is one publisher's hop alone: `batch` is stored in
 * INGEST for tenants that do not exist yet (nothing reads it; so no load generator shares the two
 * cores with the router), then they are announced and the running router drains it. The time runs
 * from the first event reaching EVENTS to the last; `start_spread_ms` is how far apart the
 * tenants' first events arrived (the router creating and attaching their durables).
 */
async function drain(nc: NatsConnection, clock: ArrivalClock, tenants: readonly string[], batch: OutgoingEvent[], timeoutMs: number, routerPid: number, serverPid?: number): Promise<Drained> {
  clock.reset();
  await timedPublish(nc.jetstream(), clock, batch);
  const cpu = await cpuMeter(routerPid, serverPid);
  const js = nc.jetstream();
  await Promise.all(tenants.map((t) => announceTenant(js, t)));
  await clock.waitFor(batch.length, timeoutMs);
  const seconds = (clock.lastArrivalMs - clock.firstArrivalMs) / 1000;
  const firsts = tenants.map((t) => Math.min(...(clock.latencies.get(t) ?? [0])));
  return {
    count: batch.length,
    seconds: round(seconds),
    per_second: Math.round(batch.length / seconds),
    start_spread_ms: Math.round(Math.max(...firsts) - Math.min(...firsts)),
    ...(await cpu.per(batch.length, seconds)),
  };
}

async function throughput(js: JetStreamClient, clock: ArrivalClock, batch: OutgoingEvent[], timeoutMs: number, routerPid: number, serverPid?: number): Promise<Throughput> {
  clock.reset();
  const cpu = await cpuMeter(routerPid, serverPid);
  const started = performance.now();
  await timedPublish(js, clock, batch);
  await clock.waitFor(batch.length, timeoutMs);
  const seconds = (clock.lastArrivalMs - started) / 1000;
  return {
    count: batch.length,
    seconds: round(seconds),
    per_second: Math.round(batch.length / seconds),
    latency: clock.of([...clock.latencies.keys()]),
    ...(await cpu.per(batch.length, seconds)),
  };
}

type Drained = Omit<Throughput, 'latency'> & { start_spread_ms: number };

interface DrainRound {
  raw_jetstream_publish: RateFigure;
  drain: Drained;
  publish_ratio: number;
}

/** The mean of figures measured in every round, or null when any round could not read its own. */
function meanOfAll(values: ReadonlyArray<number | null>, digits: number): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length === values.length ? round(known.reduce((a, b) => a + b, 0) / known.length, digits) : null;
}

/** Rates pooled: all the events over all the seconds. */
function pooledRate(figures: readonly RateFigure[]): RateFigure {
  const count = figures.reduce((n, f) => n + f.count, 0);
  const seconds = figures.reduce((n, f) => n + f.seconds, 0);
  return { count, seconds: round(seconds), per_second: Math.round(count / seconds) };
}

/** The drains pooled, with their CPU per event averaged (null if any round could not read it). */
function pooledDrain(rounds: readonly DrainRound[]): Drained {
  const drains = rounds.map((r) => r.drain);
  const mean = (key: keyof CpuFigures) => meanOfAll(drains.map((d) => d[key]), 2);
  return {
    ...pooledRate(drains),
    start_spread_ms: Math.max(...drains.map((d) => d.start_spread_ms)),
    router_cpu_us_per_event: mean('router_cpu_us_per_event'),
    router_cpu_cores: mean('router_cpu_cores'),
    nats_server_cpu_us_per_event: mean('nats_server_cpu_us_per_event'),
  };
}

type CpuFigures = Pick<Throughput, 'router_cpu_us_per_event' | 'router_cpu_cores' | 'nats_server_cpu_us_per_event'>;

/** CPU of the router and nats-server from now until `per()`, per event (null where unreadable). */
async function cpuMeter(routerPid: number, serverPid?: number) {
  const sample = async () => ({ router: await sampleProcess(routerPid), server: serverPid !== undefined ? await sampleProcess(serverPid) : undefined });
  const before = await sample();
  const used = async () => {
    const after = await sample();
    const of = (a?: { cpu_seconds: number }, b?: { cpu_seconds: number }) => (a !== undefined && b !== undefined ? b.cpu_seconds - a.cpu_seconds : undefined);
    return { router: of(before.router, after.router), server: of(before.server, after.server) };
  };
  return {
    /** Cores each process used on average over the `seconds` since the meter started. */
    async cores(seconds: number): Promise<Pick<PhaseCores, 'router_cpu_cores' | 'nats_server_cpu_cores'>> {
      const { router, server } = await used();
      return {
        router_cpu_cores: router !== undefined ? round(router / seconds, 3) : null,
        nats_server_cpu_cores: server !== undefined ? round(server / seconds, 3) : null,
      };
    },
    async per(events: number, seconds: number): Promise<CpuFigures> {
      const { router, server } = await used();
      return {
        router_cpu_us_per_event: router !== undefined ? Math.round((router * 1e6) / events) : null,
        router_cpu_cores: router !== undefined ? round(router / seconds, 2) : null,
        nats_server_cpu_us_per_event: server !== undefined ? Math.round((server * 1e6) / events) : null,
      };
    },
  };
}

function historyBatches(tenant: string, n: number): OutgoingEvent[] {
  const now = new Date().toISOString();
  return Array.from({ length: n }, (_, part) => {
    const id = `hist-${tenant}-${part}-${randomBytes(3).toString('hex')}`;
    const envelope = {
      id,
      tenant,
      instance: 'phone-0',
      type: 'history.messages',
      schema_version: 1,
      occurred_at: now,
      captured_at: now,
      source: 'tenant',
      data: {
        sync_type: 'full',
        is_latest: false,
        part,
        parts: n,
        messages: Array.from({ length: 5 }, (_, i) => ({
          message_id: `h${part}x${i}`,
          chat_jid: '5511999990000@s.whatsapp.net',
          from_me: false,
          timestamp: now,
          message_type: 'conversation',
          text: `history ${part}.${i}`,
        })),
      },
    };
    return { id, tenant, instance: 'phone-0', subject: ingestSubject(tenant, 'phone-0', 'history.messages'), bytes: encoder.encode(JSON.stringify(envelope)) };
  });
}
