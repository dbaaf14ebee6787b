import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './fleet/process-fleet.ts';

/** `pnpm bench <name> …` as a child process, the way a person runs it; resolves with its JSON. */
function runBenchProcess(
  name: string,
  args: string[],
  out: string,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'scripts/bench.ts', name, ...args, '--out', out],
      { cwd: REPO_ROOT, timeout: 120_000, env: process.env },
      (err, _stdout, stderr) => {
        if (err) return reject(new Error(`pnpm bench ${name} failed: ${stderr}`, { cause: err }));
        readFile(out, 'utf8').then(
          (text) => resolve(JSON.parse(text) as Record<string, unknown>),
          reject,
        );
      },
    );
  });
}

function ratios(document: Record<string, unknown>): [string, unknown][] {
  return Object.entries(document).filter(([key]) => key.endsWith('_ratio'));
}

/** The numeric fields `path` must hold in `document`, each a finite number. */
function expectNumbers(
  document: Record<string, unknown>,
  path: string,
  fields: readonly string[],
): void {
  let value: unknown = document;
  for (const key of path.split('.')) value = (value as Record<string, unknown> | undefined)?.[key];
  expect(value, path).toBeTypeOf('object');
  for (const field of fields)
    expect(Number.isFinite((value as Record<string, unknown>)[field]), `${path}.${field}`).toBe(
      true,
    );
}

const RATE_FIGURE = ['count', 'seconds', 'per_second'];
const LATENCY = ['count', 'p50_ms', 'p95_ms', 'p99_ms', 'max_ms'];

// Keeps the benchmarks from rotting: each runs at a tiny size and must still write every
// documented field. The figures themselves are not judged here — docs/benchmarks.md has those.
describe('pnpm bench', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchyard-bench-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('ceilings writes the three raw ceilings', async () => {
    const document = await runBenchProcess(
      'ceilings',
      ['--events', '500'],
      join(dir, 'ceilings.json'),
    );
    expect(document['benchmark']).toBe('ceilings');
    expectNumbers(document, 'machine', ['cpus', 'memory_gib']);
    expectNumbers(document, 'raw_jetstream_publish', RATE_FIGURE);
    expectNumbers(document, 'raw_postgres_insert', RATE_FIGURE);
    expectNumbers(document, 'raw_http_post', RATE_FIGURE);
    expectNumbers(document, 'raw_http_post.latency', LATENCY);
  });

  it('capture writes the fleet, single-instance and floor phases beside the raw publish rate', async () => {
    const document = await runBenchProcess(
      'capture',
      ['--events', '1000', '--sessions', '10', '--single-events', '200'],
      join(dir, 'capture.json'),
    );
    expectNumbers(document, 'raw_jetstream_publish', [...RATE_FIGURE, 'cpu_us_per_publish']);
    expectNumbers(document, 'capture_fleet', ['events', 'per_second', 'cpu_us_per_event']);
    expectNumbers(document, 'floor', ['events', 'cpu_us_per_event', 'bytes_per_event']);
    expect((document['capture_fleet'] as { events: number }).events).toBe(1000);
    // Every fed message mapped once: the floor counts what the mappers emitted.
    expect((document['floor'] as { events: number }).events).toBe(1000);
    expectNumbers(document, 'floor_atomic', ['events', 'per_second', 'cpu_us_per_event']);
    expect((document['floor_atomic'] as { events: number }).events).toBe(1000);
    const bound = document['floor_bound_publish_ratio'] as number;
    expect(bound).toBeGreaterThan(0);
    expect(bound).toBeLessThan(1);
    for (const [key, value] of ratios(document)) expect(Number.isFinite(value), key).toBe(true);
  }, 120_000);

  it('webhooks writes both phases, their CPU per delivery and the raw POST loop it is compared with', async () => {
    const document = await runBenchProcess('webhooks', ['--events', '300', '--instances', '3'], join(dir, 'webhooks.json'));
    expectNumbers(document, 'raw_http_post', [...RATE_FIGURE, 'cpu_us_per_post']);
    for (const phase of ['webhooks_all_healthy', 'webhooks_healthy_beside_hanging']) {
      expectNumbers(document, phase, ['deliveries', 'per_second', 'cpu_us_per_delivery']);
      expectNumbers(document, `${phase}.latency`, LATENCY);
      // Every event reached the healthy endpoint in each phase (at least once: a redelivery
      // after a lost ack is allowed, and counted here).
      expect((document[phase] as { deliveries: number }).deliveries, phase).toBeGreaterThanOrEqual(300);
    }
    const found = ratios(document);
    expect(found.map(([key]) => key).sort()).toEqual(['delivery_ratio', 'isolation_ratio', 'post_cpu_ratio']);
    for (const [key, value] of found) expect(Number.isFinite(value), key).toBe(true);
  }, 120_000);

  it('media stores every job and writes the raw fetch and fetch + put it is compared with', async () => {
    const document = await runBenchProcess('media', ['--jobs', '60', '--size', '4096', '--blobs', '2'], join(dir, 'media.json'));
    expectNumbers(document, 'raw_fetch', ['count', 'seconds', 'per_second', 'cpu_us_per_job']);
    expectNumbers(document, 'raw_fetch_store', ['count', 'seconds', 'per_second', 'cpu_us_per_job']);
    expectNumbers(document, 'media', ['jobs', 'seconds', 'per_second', 'mib_per_second', 'cpu_us_per_job']);
    expectNumbers(document, 'media.latency', LATENCY);
    // Every job of the measured phase was stored (the bench fails on a failed one).
    expect((document['media'] as { jobs: number }).jobs).toBe(60);
    const found = ratios(document);
    expect(found.map(([key]) => key).sort()).toEqual(['media_cpu_ratio', 'media_ratio']);
    for (const [key, value] of found) expect(Number.isFinite(value), key).toBe(true);
  }, 120_000);

  it('ingest-layouts routes every event through both layouts, on one durable per tenant and on the pools', async () => {
    const document = await runBenchProcess('ingest-layouts', ['--events', '400', '--tenants-large', '40', '--pools', '4', '--rounds', '1'], join(dir, 'ingest-layouts.json'));
    expectNumbers(document, 'raw_jetstream_publish', RATE_FIGURE);
    const phases = { per_tenant: document['per_tenant'], pooled: document['pooled'] } as Record<string, Record<string, { tenants: number; active_tenants: number; durables: number; events: number }>>;
    for (const [layout, byCount] of Object.entries(phases)) {
      for (const [key, tenants] of [['tenants_10', 10], ['tenants_40', 40]] as const) {
        expectNumbers(document, `${layout}.${key}`, ['per_second', 'client_cpu_us_per_event', 'durables_created_seconds']);
        // A phase ends only once every event was stored in EVENTS and acked.
        expect(byCount[key]!.events, `${layout} ${key}`).toBe(400);
        expect(byCount[key]!.tenants).toBe(tenants);
        if (layout === 'per_tenant') expect(byCount[key]!.durables).toBe(tenants);
        else expect(byCount[key]!.durables).toBeLessThanOrEqual(4);
      }
    }
    const idle = phases['per_tenant']!['tenants_40_10_active']!;
    expect(idle).toMatchObject({ tenants: 40, active_tenants: 10, durables: 40, events: 400 });
    const found = ratios(document);
    expect(found.map(([key]) => key).sort()).toEqual(['per_tenant_idle_durables_ratio', 'per_tenant_large_publish_ratio', 'per_tenant_scaling_ratio', 'pooled_large_publish_ratio', 'pooled_scaling_ratio']);
    for (const [key, value] of found) expect(Number.isFinite(value), key).toBe(true);
  }, 120_000);

  it('e2e writes throughput, latency, per-service usage, the same-run ceilings and finite ratios', async () => {
    const document = await runBenchProcess(
      'e2e',
      ['--events', '300', '--tenants', '1', '--rate', '100', '--duration', '2'],
      join(dir, 'e2e.json'),
    );
    expect(document['benchmark']).toBe('e2e');
    expectNumbers(document, 'throughput', [
      'published_per_second',
      'persisted_per_second',
      'persisted_seconds',
      'received_per_second',
      'received_seconds',
    ]);
    expectNumbers(document, 'latency', ['offered_per_second', 'sent']);
    expectNumbers(document, 'latency.publish_to_persisted', LATENCY);
    expectNumbers(document, 'latency.publish_to_received', LATENCY);
    for (const raw of ['raw_jetstream_publish', 'raw_postgres_insert', 'raw_http_post'])
      expectNumbers(document, raw, RATE_FIGURE);
    expect(
      (document['latency'] as { publish_to_persisted: { count: number } }).publish_to_persisted
        .count,
    ).toBe(200);
    const services = document['services'] as Record<
      string,
      { rss_after_mib: number; cpu_seconds: number }
    >;
    expect(Object.keys(services).sort()).toEqual([
      'capture',
      'dlq-worker',
      'media',
      'persistence',
      'router',
      'webhook-dispatch',
    ]);
    for (const usage of Object.values(services)) {
      expect(usage.rss_after_mib).toBeGreaterThan(0);
      expect(Number.isFinite(usage.cpu_seconds)).toBe(true);
    }
    // The cores of every process while the rate was offered: each service, nats-server, Postgres,
    // the bench, and their total (the sum of the others).
    const cores = (document['latency'] as { cpu_cores_while_offered: Record<string, number | null> }).cpu_cores_while_offered;
    expect(Object.keys(cores).sort()).toEqual(['bench', 'capture', 'dlq-worker', 'media', 'nats_server', 'persistence', 'postgres', 'router', 'total', 'webhook-dispatch']);
    for (const value of Object.values(cores)) expect(Number.isFinite(value)).toBe(true);
    expect(cores['nats_server']).toBeGreaterThan(0);
    expect(cores['total']).toBeCloseTo(Object.entries(cores).reduce((sum, [k, v]) => (k === 'total' ? sum : sum + (v ?? 0)), 0), 2);
    const found = ratios(document);
    expect(found.map(([key]) => key)).toEqual(
      expect.arrayContaining([
        'throughput_ratio',
        'webhook_throughput_ratio',
        'persist_vs_raw_insert_ratio',
      ]),
    );
    for (const [key, value] of found) expect(Number.isFinite(value), key).toBe(true);
  }, 120_000);

  it('e2e --source capture feeds the fleet through Baileys emitters in the capture process', async () => {
    const document = await runBenchProcess(
      'e2e',
      ['--source', 'capture', '--events', '300', '--tenants', '2', '--instances', '2', '--rate', '100', '--duration', '2'],
      join(dir, 'e2e-capture.json'),
    );
    expect((document['config'] as { source: string }).source).toMatch(/^capture/);
    // Every event offered was captured, persisted and received: the latency figures count them all.
    const latency = document['latency'] as Record<string, { count: number }>;
    expect(latency['publish_to_persisted']!.count).toBe(200);
    expect(latency['publish_to_received']!.count).toBe(200);
    expectNumbers(document, 'throughput', ['published_per_second', 'persisted_per_second', 'received_per_second']);
    // Capture did the work this time: it mapped, spooled and published every event.
    const services = document['services'] as Record<string, { cpu_seconds: number }>;
    expect(services['capture']!.cpu_seconds).toBeGreaterThan(0.05);
    expect(Number.isFinite(document['throughput_ratio'])).toBe(true);
  }, 120_000);
});
