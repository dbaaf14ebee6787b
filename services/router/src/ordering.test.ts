import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type JetStreamClient, type NatsConnection } from 'nats';
import { announceTenant, partitionOf } from '@switchyard/nats';
import { ingestSubject, STREAMS } from '@switchyard/schema';
import type { RunningService } from '@switchyard/service';
import {
  decodeJson,
  eventually,
  randomName,
  randomTenantId,
  readStream,
  startNatsServer,
  TEST_DATABASE_URL,
  testLogger,
  testServiceEnv,
  type NatsServer,
  messageReceivedEvent,
} from '@switchyard/testing';
import { REALTIME_PARTITION_BUCKET, startRouter } from './app.ts';
import { loadRouterConfig } from './config.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const event = messageReceivedEvent;

/** Few partitions, a short lease and ack_wait, quick rebalancing: hand-overs happen within a test. */
const FAST_OWNERSHIP = {
  ROUTER_PARTITIONS: '8',
  ROUTER_LEASE_TTL: '2s',
  ROUTER_ACK_WAIT: '1s',
  ROUTER_REBALANCE_INTERVAL: '200ms',
};

async function metricTotal(routers: RunningService[], name: string, tenant?: string): Promise<number[]> {
  return Promise.all(
    routers.map(
      async (r) =>
        (await r.context.registry.getSingleMetric(name)?.get())?.values
          .filter((v) => tenant === undefined || v.labels['tenant'] === tenant)
          .reduce((a, v) => a + v.value, 0) ?? 0,
    ),
  );
}

async function publishSeqs(js: JetStreamClient, tenant: string, instance: string, seqs: readonly number[]): Promise<void> {
  await Promise.all(
    seqs.map((seq) => {
      const e = event(tenant, instance, seq);
      return js.publish(ingestSubject(tenant, instance, 'message.received'), encoder.encode(JSON.stringify(e)), { msgID: e.id });
    }),
  );
}

async function routedSeqs(nc: NatsConnection, tenant: string, instance: string, expected: number, timeoutMs = 60_000): Promise<number[]> {
  const routed = decodeJson<{ seq: number }>(await readStream(nc, STREAMS.events, `v1.events.${tenant}.${instance}.>`, expected, timeoutMs));
  return routed.map((e) => e.seq);
}

function tenantOnPartition(partition: number, partitions: number): string {
  for (;;) {
    const tenant = randomTenantId();
    if (partitionOf(tenant, partitions) === partition) return tenant;
  }
}

/** Tenants whose partitions (of 8) are all different, so they spread over the replicas. */
function tenantsOnDistinctPartitions(n: number, partitions: number): string[] {
  const out: string[] = [];
  const used = new Set<number>();
  while (out.length < n) {
    const tenant = randomTenantId();
    const p = partitionOf(tenant, partitions);
    if (used.has(p)) continue;
    used.add(p);
    out.push(tenant);
  }
  return out;
}

describe('router replicas', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  const routers: RunningService[] = [];
  // On the partitions a replica holding all eight hands over first (the last claimed, p7 down),
  // so tenants change owner while their events are still being published. On random partitions
  // (p0–p5, say) a fast run could finish before any of theirs moved, one replica routing it all.
  const tenants = [7, 6, 5, 4, 3, 2].map((p) => tenantOnPartition(p, 8));
  const bucket = randomName('tenants');

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    for (const tenant of tenants) await announceTenant(nc.jetstream(), tenant, {}, { bucket });
    for (let i = 0; i < 3; i++) {
      routers.push(
        await startRouter(loadRouterConfig(testServiceEnv(nats.url, FAST_OWNERSHIP)), {
          logger: testLogger('router'),
          tenantBucket: bucket,
        }),
      );
    }
  });

  afterAll(async () => {
    for (const router of routers) await router.stop();
    await nc?.close();
    await nats?.stop();
  });

  it('keep per-instance order from INGEST to EVENTS with many in flight and partitions moving, and count a real gap once', async () => {
    const js = nc.jetstream();
    const instances = ['phone-1', 'phone-2'];
    // seq 151 is never published: one gap per instance, which the replicas must count once.
    const seqs = Array.from({ length: 300 }, (_, i) => i + 1).filter((s) => s !== 151);
    // Published in slices while the three replicas are still rebalancing, so tenants change
    // owner mid-stream.
    for (let from = 0; from < seqs.length; from += 50) {
      const slice = seqs.slice(from, from + 50);
      await Promise.all(tenants.flatMap((tenant) => instances.map((instance) => publishSeqs(js, tenant, instance, slice))));
      await new Promise((r) => setTimeout(r, 100));
    }

    for (const tenant of tenants) {
      for (const instance of instances) expect(await routedSeqs(nc, tenant, instance, seqs.length)).toEqual(seqs);
    }
    // Every replica took part: the order above is not one replica doing all the work.
    const routedBy = await metricTotal(routers, 'router_events_routed_total');
    expect(routedBy.filter((n) => n > 0).length).toBeGreaterThan(1);
    for (const tenant of tenants) {
      expect((await metricTotal(routers, 'event_sequence_gaps_total', tenant)).reduce((a, b) => a + b, 0)).toBe(instances.length);
    }
  });

  it('give every partition exactly one owner, in fair shares', async () => {
    expect(new Set(routers.map((r) => r.context.replicaId)).size).toBe(3);
    const kv = await nc.jetstream().views.kv(REALTIME_PARTITION_BUCKET);
    const holders = await eventually(
      async () => {
        const byReplica = new Map<string, number>();
        for (let p = 0; p < 8; p++) {
          const entry = await kv.get(`lease.p${p}`);
          if (entry === null || entry.operation !== 'PUT') return undefined;
          const replica = (JSON.parse(decoder.decode(entry.value)) as { replica: string }).replica;
          byReplica.set(replica, (byReplica.get(replica) ?? 0) + 1);
        }
        // ceil(8 / 3) = 3: balanced once nobody holds more.
        return [...byReplica.values()].every((n) => n <= 3) && byReplica.size === 3 ? byReplica : undefined;
      },
      30_000,
      'balanced partition leases',
    );
    expect([...holders.values()].reduce((a, b) => a + b, 0)).toBe(8);
  });
});

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

/** A router as its own process, so "killed" means SIGKILL: no lease released, messages left unacked. */
function startRouterProcess(natsUrl: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      ...testServiceEnv(natsUrl, { ...FAST_OWNERSHIP, DATABASE_URL: TEST_DATABASE_URL, LOG_LEVEL: 'error' }),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

describe('router owner killed mid-stream', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let killed: ChildProcess | undefined;
  let survivor: RunningService | undefined;

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
  });

  afterAll(async () => {
    killed?.kill('SIGKILL');
    await survivor?.stop();
    await nc?.close();
    await nats?.stop();
  });

  it('hands the dead owner’s tenants to the survivor with nothing lost and order per instance kept', async () => {
    const js = nc.jetstream();
    const tenants = tenantsOnDistinctPartitions(8, 8);
    // The production tenant bucket: the child process reads the default one.
    for (const tenant of tenants) await announceTenant(js, tenant);
    killed = startRouterProcess(nats.url);
    const kv = await js.views.kv(REALTIME_PARTITION_BUCKET, { history: 1, ttl: 2_000 });
    const holderOf = async (tenant: string): Promise<string | undefined> => {
      const entry = await kv.get(`lease.p${partitionOf(tenant, 8)}`);
      return entry?.operation === 'PUT' ? (JSON.parse(decoder.decode(entry.value)) as { replica: string }).replica : undefined;
    };
    // The child owns everything first, then the survivor joins and rebalancing splits them.
    await eventually(async () => ((await Promise.all(tenants.map(holderOf))).every((h) => h !== undefined) ? true : undefined), 30_000, 'child owns the partitions');
    survivor = await startRouter(loadRouterConfig(testServiceEnv(nats.url, FAST_OWNERSHIP)), { logger: testLogger('router') });
    const survivorId = survivor.context.replicaId;
    const childTenants = await eventually(
      async () => {
        const holders = await Promise.all(tenants.map(holderOf));
        const mine = holders.filter((h) => h === survivorId).length;
        return mine >= 2 && mine <= 6 ? tenants.filter((_, i) => holders[i] !== survivorId) : undefined;
      },
      30_000,
      'partitions split between the two replicas',
    );

    const instances = ['phone-1', 'phone-2'];
    const seqs = Array.from({ length: 400 }, (_, i) => i + 1);
    const publishing = (async () => {
      for (let from = 0; from < seqs.length; from += 20) {
        const slice = seqs.slice(from, from + 20);
        await Promise.all(tenants.flatMap((tenant) => instances.map((instance) => publishSeqs(js, tenant, instance, slice))));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    // Mid-stream: the owner of the child's tenants dies holding delivered, unacked messages.
    await eventually(async () => ((await routedSeqs(nc, childTenants[0]!, 'phone-1', 1, 2_000)).length >= 1 ? true : undefined), 20_000, 'child routing');
    await new Promise((r) => setTimeout(r, 300));
    killed.kill('SIGKILL');
    await publishing;

    for (const tenant of tenants) {
      for (const instance of instances) expect(await routedSeqs(nc, tenant, instance, seqs.length, 60_000)).toEqual(seqs);
    }
    expect(await Promise.all(tenants.map(holderOf))).toEqual(tenants.map(() => survivorId));
  });
});

describe('router across a NATS restart', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let router: RunningService | undefined;

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  });

  afterAll(async () => {
    await router?.stop();
    await nc?.close();
    await nats?.stop();
  });

  // After the crash, the events in flight fail to publish and come back together (their
  // followers held behind them): they must go on in one retry round, in order. (Before, each
  // round let two more through, and the last ones were dead-lettered.)
  it('keeps per-instance order, and keeps routing, when the server is killed mid-stream', async () => {
    const js = nc.jetstream();
    const bucket = randomName('tenants');
    const tenants = [7, 6].map((p) => tenantOnPartition(p, 8));
    for (const tenant of tenants) await announceTenant(js, tenant, {}, { bucket });
    router = await startRouter(loadRouterConfig(testServiceEnv(nats.url, FAST_OWNERSHIP)), { logger: testLogger('router'), tenantBucket: bucket });
    const instances = ['phone-1', 'phone-2'];
    const seqs = Array.from({ length: 1500 }, (_, i) => i + 1);
    const publishing = (async () => {
      for (let from = 0; from < seqs.length; from += 20) {
        const slice = seqs.slice(from, from + 20);
        const events = tenants.flatMap((tenant) => instances.map((instance) => slice.map((seq) => event(tenant, instance, seq))));
        // Each slice again until every message of it is stored (the same ids: duplicates are
        // dropped), so INGEST holds every instance in order across the outage.
        for (;;) {
          try {
            await Promise.all(events.flatMap((ofInstance) => ofInstance.map((e) => js.publish(ingestSubject(e.tenant, e.instance, 'message.received'), encoder.encode(JSON.stringify(e)), { msgID: e.id }))));
            break;
          } catch {
            await new Promise((r) => setTimeout(r, 200));
          }
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    // While the router has a tenant's messages in flight.
    await eventually(async () => ((await routedSeqs(nc, tenants[0]!, 'phone-1', 1, 2_000)).length >= 1 ? true : undefined), 20_000, 'routing');
    await new Promise((r) => setTimeout(r, 400));
    // Killed, like a crash: publishes and acks in flight are lost, the store is kept.
    await nats.kill();
    await nats.restart();
    await publishing;
    for (const tenant of tenants) {
      for (const instance of instances) expect(await routedSeqs(nc, tenant, instance, seqs.length, 60_000)).toEqual(seqs);
    }
  }, 180_000);
});
