// `pnpm bench ingest-layouts [--events 20000] [--tenants-large 1000] [--pools 16] [--rounds 2] [--filters tenant|categories]`:
// what NATS itself costs per routed event when INGEST is read through one durable per tenant (the
// router's layout today) against a fixed number of pooled durables, each reading many tenants
// through a filter list (the partitioned layout docs/architecture.md proposes for thousands of
// tenants). Both layouts run the same minimal hop — consume from INGEST, publish to EVENTS with a
// Nats-Msg-Id, ack once stored — on a private nats-server, with 10 tenants and with
// `--tenants-large`, the same total load spread over them. No Switchyard service runs: the router's
// own per-event work is the same in either layout, so what differs is the server's and the client's
// cost of the durables. `*_scaling_ratio` = events/s with the large tenant count / with 10 tenants,
// the figure issue 4 asks to keep at 0.7 or more. `--filters categories` gives each tenant the
// router's realtime filters (one per event category, history left out) instead of one
// `v1.ingest.<tenant>.>`, so a pool's filter list is as long as a partitioned router's would be.
import { connect, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import { ensureDurableConsumer, ensureStreams, NATS_CLIENT_TUNING, partitionOf } from '@switchyard/nats';
import { STREAMS } from '@switchyard/schema';
import { startNatsServer } from '@switchyard/testing';
import { realtimeFilters } from '../services/router/src/ingest-ownership.ts';
import { pidOfNatsServer, sampleProcess } from './fleet/proc-stats.ts';
import { numberArg, stringArg, progress, rawJetStreamPublishRate, ratio, round, runBench, samplePayload, type BenchArgs } from './lib/mod.ts';

type Layout = 'per_tenant' | 'pooled';
type Filters = 'tenant' | 'categories';

interface PhaseFigures {
  tenants: number;
  /** Tenants the load went to; the rest of the durables idled. */
  active_tenants: number;
  durables: number;
  /** Creating every durable, before any load. */
  durables_created_seconds: number;
  events: number;
  seconds: number;
  /** From the first publish to INGEST until the last event was stored in EVENTS and acked. */
  per_second: number;
  nats_server_cpu_us_per_event: number | null;
  /** This process: the load's publishes and the hop (consume, publish, ack). */
  client_cpu_us_per_event: number;
}

/** The durables of one layout: name and filter list. Pools no tenant hashes to are not created. */
function durablesFor(layout: Layout, tag: string, tenants: readonly string[], pools: number, filters: Filters): { durable: string; filters: string[] }[] {
  const of = (t: string): string[] => (filters === 'categories' ? realtimeFilters(t) : [`v1.ingest.${t}.>`]);
  if (layout === 'per_tenant') return tenants.map((t) => ({ durable: `lay_${t}`, filters: of(t) }));
  const byPool = new Map<number, string[]>();
  for (const t of tenants) {
    // A pool per router partition: the tenant's partition, as the ownership module assigns it.
    const k = partitionOf(t, pools);
    byPool.set(k, [...(byPool.get(k) ?? []), ...of(t)]);
  }
  return [...byPool.entries()].map(([k, filters]) => ({ durable: `lay_${tag}_pool${k}`, filters }));
}

async function phase(
  nc: NatsConnection,
  jsm: JetStreamManager,
  serverPid: number | undefined,
  layout: Layout,
  tag: string,
  tenantCount: number,
  events: number,
  pools: number,
  filters: Filters,
  log: (m: string) => void,
  /** The load goes to the first this many tenants only; the others' durables exist and idle. */
  active = tenantCount,
): Promise<PhaseFigures> {
  const js = nc.jetstream();
  const tenants = Array.from({ length: tenantCount }, (_, i) => `${tag}${String(i).padStart(4, '0')}`);
  const durables = durablesFor(layout, tag, tenants, pools, filters);
  const createdAt = performance.now();
  for (const { durable, filters } of durables) {
    await ensureDurableConsumer(jsm, { stream: STREAMS.ingest, durable, filterSubject: filters[0]!, filterSubjects: filters, maxAckPending: 1_000 });
  }
  const createdSeconds = (performance.now() - createdAt) / 1000;

  const bar = progress(`${layout}, ${tenantCount} tenants`, events);
  let stored = 0;
  let failed: unknown;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const iterators: ConsumerMessages[] = [];
  const loops: Promise<void>[] = [];
  for (const { durable } of durables) {
    const consumer = await js.consumers.get(STREAMS.ingest, durable);
    const messages = await consumer.consume({ max_messages: 256 });
    iterators.push(messages);
    loops.push(
      (async () => {
        for await (const m of messages) {
          // The hop every routed event makes: stored in EVENTS (deduplicated by id), then acked.
          hop(js, m.subject, m.data, `${tag}-${m.seq}`).then(
            () => {
              m.ack();
              bar.update(++stored);
              if (stored === events) finish();
            },
            (err: unknown) => {
              failed ??= err;
              finish();
            },
          );
        }
      })(),
    );
  }

  const payload = samplePayload(600);
  const serverBefore = serverPid !== undefined ? await sampleProcess(serverPid) : undefined;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  const publisher = async (): Promise<void> => {
    while (next < events) {
      const i = next++;
      const tenant = tenants[i % active]!;
      await js.publish(`v1.ingest.${tenant}.phone-${i % 2}.message.received`, payload, { msgID: `${tag}-in-${i}` });
    }
  };
  await Promise.all(Array.from({ length: 256 }, publisher));
  await finished;
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const serverAfter = serverPid !== undefined ? await sampleProcess(serverPid) : undefined;
  bar.done();
  if (failed !== undefined) throw new Error(`publishing to EVENTS failed in the ${layout} phase`, { cause: failed });

  for (const m of iterators) await m.close();
  await Promise.all(loops);
  for (const { durable } of durables) await jsm.consumers.delete(STREAMS.ingest, durable);

  const serverCpu = serverBefore !== undefined && serverAfter !== undefined ? serverAfter.cpu_seconds - serverBefore.cpu_seconds : undefined;
  const figures: PhaseFigures = {
    tenants: tenantCount,
    active_tenants: active,
    durables: durables.length,
    durables_created_seconds: round(createdSeconds, 2),
    events,
    seconds: round(seconds, 3),
    per_second: Math.round(events / seconds),
    nats_server_cpu_us_per_event: serverCpu !== undefined ? Math.round((serverCpu * 1e6) / events) : null,
    client_cpu_us_per_event: Math.round((cpu.user + cpu.system) / events),
  };
  log(`${layout}, ${tenantCount} tenants (${active} active) on ${durables.length} durables: ${figures.per_second} events/s, nats-server ${figures.nats_server_cpu_us_per_event} µs per event`);
  return figures;
}

function hop(js: JetStreamClient, subject: string, data: Uint8Array, msgID: string): Promise<unknown> {
  return js.publish(`v1.events.${subject.slice('v1.ingest.'.length)}`, data, { msgID });
}

/** Several rounds of one phase kind, pooled: events and seconds added, CPU per event averaged by events. */
function pooled(rounds: readonly PhaseFigures[]): PhaseFigures & { rounds: PhaseFigures[] } {
  const events = rounds.reduce((s, r) => s + r.events, 0);
  const seconds = rounds.reduce((s, r) => s + r.seconds, 0);
  const weighted = (key: 'nats_server_cpu_us_per_event' | 'client_cpu_us_per_event'): number | null =>
    rounds.some((r) => r[key] === null) ? null : Math.round(rounds.reduce((s, r) => s + (r[key] ?? 0) * r.events, 0) / events);
  return {
    tenants: rounds[0]!.tenants,
    active_tenants: rounds[0]!.active_tenants,
    durables: rounds[0]!.durables,
    durables_created_seconds: round(Math.max(...rounds.map((r) => r.durables_created_seconds)), 2),
    events,
    seconds: round(seconds, 3),
    per_second: Math.round(events / seconds),
    nats_server_cpu_us_per_event: weighted('nats_server_cpu_us_per_event'),
    client_cpu_us_per_event: weighted('client_cpu_us_per_event') ?? 0,
    rounds: [...rounds],
  };
}

export default async function ingestLayouts(args: BenchArgs): Promise<void> {
  const events = numberArg(args, 'events', 20_000);
  const largeTenants = Math.max(10, Math.round(numberArg(args, 'tenants-large', 1_000)));
  const pools = Math.max(1, Math.round(numberArg(args, 'pools', 16)));
  const rounds = Math.max(1, Math.round(numberArg(args, 'rounds', 2)));
  const filters = stringArg(args, 'filters', 'tenant');
  if (filters !== 'tenant' && filters !== 'categories') throw new Error(`--filters must be tenant or categories, not ${filters}`);
  await runBench('ingest-layouts', args, async (ctx) => {
    const nats = await startNatsServer();
    const nc = await connect({ servers: nats.url, ...NATS_CLIENT_TUNING });
    try {
      const jsm = await nc.jetstreamManager();
      await ensureStreams(jsm);
      const serverPid = await pidOfNatsServer(nats.port);
      ctx.log('raw ceiling: JetStream publish');
      const raw = await rawJetStreamPublishRate(nc, { count: events });
      // Alternating, so a drift of the machine's speed falls on both layouts.
      const runs: Record<Layout, { small: PhaseFigures[]; large: PhaseFigures[] }> = { per_tenant: { small: [], large: [] }, pooled: { small: [], large: [] } };
      const log = (m: string): void => ctx.log(m);
      // Many tenants provisioned, few sending: the per-tenant layout with only 10 of its durables busy.
      const idle: PhaseFigures[] = [];
      for (let r = 0; r < rounds; r++) {
        for (const layout of ['per_tenant', 'pooled'] as const) {
          const tag = `${layout === 'pooled' ? 'p' : 't'}${r}`;
          runs[layout].small.push(await phase(nc, jsm, serverPid, layout, `${tag}s`, 10, events, pools, filters, log));
          runs[layout].large.push(await phase(nc, jsm, serverPid, layout, `${tag}l`, largeTenants, events, pools, filters, log));
        }
        idle.push(await phase(nc, jsm, serverPid, 'per_tenant', `i${r}`, largeTenants, events, pools, filters, log, 10));
      }
      const result = (layout: Layout) => ({ tenants_10: pooled(runs[layout].small), [`tenants_${largeTenants}`]: pooled(runs[layout].large) });
      const perTenant = result('per_tenant');
      const pooledLayout = result('pooled');
      const rate = (r: ReturnType<typeof result>, key: string) => (r[key] as PhaseFigures).per_second;
      const large = `tenants_${largeTenants}`;
      return {
        config: { events, tenants_large: largeTenants, pools, rounds, filters },
        raw_jetstream_publish: raw,
        per_tenant: { ...perTenant, [`tenants_${largeTenants}_10_active`]: pooled(idle) },
        pooled: pooledLayout,
        per_tenant_scaling_ratio: ratio(rate(perTenant, large), rate(perTenant, 'tenants_10')),
        pooled_scaling_ratio: ratio(rate(pooledLayout, large), rate(pooledLayout, 'tenants_10')),
        // 10 busy tenants beside idle durables against 10 tenants alone: what idle tenants cost.
        per_tenant_idle_durables_ratio: ratio(pooled(idle).per_second, rate(perTenant, 'tenants_10')),
        // The hop against the single-hop ceiling: a hop is a publish, a consume and an ack.
        per_tenant_large_publish_ratio: ratio(rate(perTenant, large), raw.per_second),
        pooled_large_publish_ratio: ratio(rate(pooledLayout, large), raw.per_second),
        targets: { scaling_ratio_min: 0.7 },
        notes:
          `per_tenant = one durable per tenant (filters: ${filters === 'tenant' ? 'v1.ingest.<tenant>.>' : 'one per realtime event category'}), as the router reads INGEST today; pooled = ` +
          `${pools} durables, each with the filter list of the tenants hashed to it. The hop is the same in both (consume, publish to EVENTS with a Nats-Msg-Id, ack once stored); ` +
          'no Switchyard service runs, so the difference is what the durables cost NATS and its client.',
      };
    } finally {
      await nc.drain().catch(() => undefined);
      await nats.stop();
    }
  });
}
