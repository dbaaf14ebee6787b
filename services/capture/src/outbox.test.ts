import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, connect as connectTcp, type AddressInfo, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forTenant, type Pool } from '@switchyard/db';
import { ensureStreams } from '@switchyard/nats';
import { parseEnvelope, STREAMS, type EventEnvelope } from '@switchyard/schema';
import {
  createTestPool,
  createTestTenant,
  startNatsServer,
  TEST_DATABASE_URL,
  testServiceEnv,
  type NatsServer,
  type TestTenant,
} from '@switchyard/testing';
import { createIngestBatcher } from './ingest-batcher.ts';
import { createNumbering } from './numbering.ts';
import { outboxBacklog } from './outbox.ts';
import { lastSeq } from './sequence.ts';
import { capturing as capturingOn, readStream, silentLogger } from './test-support.ts';


describe('durable outbox', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let pool: Pool;
  let tenant: TestTenant;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    await ensureStreams(await nc.jetstreamManager());
    pool = await createTestPool();
    tenant = await createTestTenant(pool);
  });
  afterAll(async () => {
    await tenant.cleanup();
    await pool.end();
    await nc.close();
    await server.stop();
  });

  async function ingested(instance: string): Promise<EventEnvelope[]> {
    const out: EventEnvelope[] = [];
    for (const m of await readStream(await nc.jetstreamManager(), STREAMS.ingest)) {
      const parsed = parseEnvelope(m.data);
      if (parsed.ok && parsed.event.tenant === tenant.tenant && parsed.event.instance === instance) out.push(parsed.event);
    }
    return out;
  }

  function expectInOrderOnce(events: EventEnvelope[], ids: string[]): void {
    const messageIds = events.map((e) => ('message_id' in e.data ? e.data.message_id : undefined));
    expect(messageIds).toEqual(ids);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  }

  /** capturing() on this suite's tenant, NATS and database. */
  function capturing(
    instance: string,
    options?: Parameters<typeof capturingOn>[2],
    ids?: string[],
  ): ReturnType<typeof capturingOn> {
    return capturingOn({ tenant: tenant.tenant, js: nc.jetstream(), db: forTenant(pool, tenant.tenant) }, instance, options, ids);
  }

  it('keeps capturing through a 30 s NATS outage and relays everything afterwards, in order, once', async () => {
    const { adapter, emit, ids, registry } = capturing('outage', {
      publishTimeoutMs: 500,
      backoff: { initialMs: 100, maxMs: 1_000 },
    });
    try {
      for (let i = 0; i < 20; i++) emit();
      await adapter.idle();
      await server.kill();
      const outageEnds = Date.now() + 30_000;
      while (Date.now() < outageEnds) {
        emit();
        await new Promise((r) => setTimeout(r, 100));
      }
      // Durably waiting: in Postgres, and reported as such.
      const backlog = await outboxBacklog(forTenant(pool, tenant.tenant), 'outage');
      expect(backlog.size).toBeGreaterThan(250);
      const metrics = await registry.metrics();
      expect(metrics).toMatch(/capture_outbox_size\{[^}]*instance="outage"[^}]*\} [1-9]\d+/);
      expect(metrics).toMatch(/capture_outbox_oldest_age_seconds\{[^}]*instance="outage"[^}]*\} (2\d|3\d)\./);
      await server.restart();
      for (let i = 0; i < 20; i++) emit();
      await adapter.idle();
    } finally {
      await adapter.close();
    }
    expectInOrderOnce(await ingested('outage'), ids);
    expect((await outboxBacklog(forTenant(pool, tenant.tenant), 'outage')).size).toBe(0);
  }, 90_000);

  /**
   * A TCP proxy in front of Postgres that the test can cut: `cut()` drops every connection
   * through it, and while `refusing` new ones are refused too.
   */
  async function cuttablePostgres(max: number) {
    const target = new URL(TEST_DATABASE_URL);
    const links = new Set<Socket>();
    const state = { refusing: false };
    const proxy = createServer((client) => {
      if (state.refusing) return client.destroy();
      const upstream = connectTcp(Number(target.port || 5432), target.hostname);
      for (const socket of [client, upstream]) {
        links.add(socket);
        socket.on('error', () => socket.destroy());
        socket.on('close', () => {
          links.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const via = new URL(TEST_DATABASE_URL);
    via.hostname = '127.0.0.1';
    via.port = String((proxy.address() as AddressInfo).port);
    const pool = await createTestPool({ url: via.toString(), max });
    return {
      state,
      db: forTenant(pool, tenant.tenant),
      cut: () => links.forEach((socket) => socket.destroy()),
      async close() {
        await pool.end();
        proxy.close();
      },
    };
  }

  it('keeps capturing while Postgres is unreachable (nothing gets a seq, so nothing goes out) and publishes everything in order once it is back', async () => {
    const postgres = await cuttablePostgres(2);
    const instance = 'pg-away';
    const { adapter, emit, ids } = capturing(instance, {
      db: postgres.db,
      backoff: { initialMs: 100, maxMs: 300 },
    });
    try {
      emit(30);
      await adapter.idle();
      postgres.state.refusing = true;
      postgres.cut();
      for (let i = 0; i < 10; i++) {
        emit(5);
        await new Promise((r) => setTimeout(r, 150));
      }
      // Without Postgres nothing gets a seq, so nothing new goes out.
      expect(await ingested(instance)).toHaveLength(30);
      expect(adapter.pending()).toBe(50);
      postgres.state.refusing = false;
      emit(20);
      await adapter.idle();
    } finally {
      await adapter.close();
      await postgres.close();
    }
    expectInOrderOnce(await ingested(instance), ids);
  }, 60_000);

  it("numbers instances that share statements through connections cut mid-statement: each one's seqs contiguous, every event once", async () => {
    // Statements in flight when their connection drops: some committed with the answer lost
    // (the instances adopt the seqs the progress rows say they got), some never ran.
    const postgres = await cuttablePostgres(2);
    const numbering = createNumbering();
    const instances = ['shared-a', 'shared-b', 'shared-c'];
    const feeds = instances.map((instance) => capturing(instance, { db: postgres.db, numbering, backoff: { initialMs: 20, maxMs: 100 } }));
    try {
      for (let round = 0; round < 60; round++) {
        for (const feed of feeds) feed.emit(3);
        await new Promise((r) => setTimeout(r, 5));
        if (round % 3 === 2) postgres.cut();
      }
      await Promise.all(feeds.map((feed) => feed.adapter.idle()));
    } finally {
      for (const feed of feeds) await feed.adapter.close();
      await postgres.close();
    }
    for (const [i, instance] of instances.entries()) expectInOrderOnce(await ingested(instance), feeds[i]!.ids);
  }, 60_000);

  it('stores what is published but unacknowledged when a publisher closes with NATS away, for the next owner to relay', async () => {
    const instance = 'handover';
    const db = forTenant(pool, tenant.tenant);
    const ids: string[] = [];
    const owner = (dir: string) =>
      capturing(instance, { spool: { dir, fsync: 'never' }, publishTimeoutMs: 1_000, backoff: { initialMs: 100, maxMs: 500 } }, ids);
    const dirA = mkdtempSync(join(tmpdir(), 'capture-handover-a-'));
    const dirB = mkdtempSync(join(tmpdir(), 'capture-handover-b-'));
    const a = owner(dirA);
    a.emit(40);
    await a.adapter.idle();
    await server.kill();
    // Numbered and published (straight from memory), never acknowledged: NATS is gone.
    a.emit(30);
    while ((await lastSeq(db, instance)) < 70) await new Promise((r) => setTimeout(r, 10));
    expect(await a.adapter.close()).toBe(0);
    // Closing stored them: nothing depends on this replica's spool any more.
    expect((await outboxBacklog(db, instance)).size).toBe(30);
    expect(readdirSync(dirA, { recursive: true }).filter((f) => String(f).endsWith('.spool'))).toEqual([]);
    await server.restart();
    // Another replica (its own disk) takes the instance over and relays them before its own.
    const b = owner(dirB);
    try {
      b.emit(10);
      await b.adapter.idle();
    } finally {
      await b.adapter.close();
    }
    expectInOrderOnce(await ingested(instance), ids);
    expect((await outboxBacklog(db, instance)).size).toBe(0);
    rmSync(dirA, { recursive: true, force: true });
    rmSync(dirB, { recursive: true, force: true });
  }, 60_000);

  it('loses nothing when capture is SIGKILLed mid-stream, and seq continues after the restart', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'capture-kill-spool-'));
    const driver = new URL('./capture-driver.ts', import.meta.url).pathname;
    const run = (from: number, to: number): { child: ChildProcess; durable: number; lines: AsyncIterable<string> } => {
      const child = spawn(process.execPath, ['--import', 'tsx', driver], {
        env: {
          ...process.env,
          ...testServiceEnv(server.url),
          DRIVER_TENANT: tenant.tenant,
          DRIVER_INSTANCE: 'killed',
          DRIVER_FROM: String(from),
          DRIVER_TO: String(to),
          CAPTURE_SPOOL_DIR: spoolDir,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const lines = createInterface({ input: child.stdout });
      return { child, durable: 0, lines };
    };

    const first = run(1, 1_000_000);
    let durable = 0;
    let emitted = 0;
    for await (const line of first.lines) {
      const m = /^durable (\d+)$/.exec(line);
      if (m) durable = Number(m[1]);
      const e = /^emitted (\d+)$/.exec(line);
      if (e) emitted = Number(e[1]);
      // Killed right after an emit: that message is spooled, most likely not yet in the outbox.
      if (durable >= 300 && emitted % 10 !== 0) break;
    }
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));

    const second = run(2_000_001, 2_000_100);
    let done = false;
    for await (const line of second.lines) if (line === 'done') done = true;
    await new Promise((r) => (second.child.exitCode !== null ? r(undefined) : second.child.once('exit', r)));
    expect(done).toBe(true);

    const events = await ingested('killed');
    const messageIds = events.map((e) => ('message_id' in e.data ? String(e.data.message_id) : ''));
    // Everything handed over before the kill is there (the spool kept what the outbox had not
    // stored yet), once, and the restart's events follow.
    expect(emitted).toBeGreaterThan(durable);
    expect(messageIds.slice(0, emitted)).toEqual(Array.from({ length: emitted }, (_, i) => `drv-${i + 1}`));
    expect(new Set(messageIds).size).toBe(messageIds.length);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const firstOfSecond = messageIds.indexOf('drv-2000001');
    expect(firstOfSecond).toBeGreaterThanOrEqual(durable);
    expect(messageIds.slice(firstOfSecond)).toEqual(Array.from({ length: 100 }, (_, i) => `drv-${2_000_001 + i}`));
    expect(messageIds.slice(0, firstOfSecond).every((id) => Number(id.slice(4)) < 2_000_000)).toBe(true);
    rmSync(spoolDir, { recursive: true, force: true });
  }, 120_000);

  it.each([
    ['one publish per event', 'midburst', false],
    ['atomic batches across instances', 'midbatch', true],
  ])('keeps order and loses nothing when NATS dies with a full publish window in flight (%s)', async (_how, instance, batched) => {
    const { adapter, emit, ids, registry } = capturing(instance, (metrics) => ({
      ...(batched
        ? { ingest: createIngestBatcher({ nc, js: nc.jetstream(), logger: silentLogger, batches: metrics.ingestBatches, minBatch: 16 }) }
        : {}),
      publishTimeoutMs: 500,
      publishWindow: 128,
      backoff: { initialMs: 100, maxMs: 500 },
    }));
    try {
      for (let i = 0; i < 3_000; i++) {
        emit();
        if (i % 50 === 49) await new Promise((r) => setImmediate(r));
      }
      // Kill while the window is full and more is queued behind it.
      while (adapter.pending() > 2_500) await new Promise((r) => setTimeout(r, 1));
      expect(adapter.pending()).toBeGreaterThan(0);
      await server.kill();
      for (let i = 0; i < 200; i++) emit();
      await new Promise((r) => setTimeout(r, 3_000));
      await server.restart();
      for (let i = 0; i < 200; i++) emit();
      await adapter.idle();
    } finally {
      await adapter.close();
    }
    expectInOrderOnce(await ingested(instance), ids);
    const text = await registry.metrics();
    expect(text).toMatch(new RegExp(`capture_publish_failures_total\\{[^}]*instance="${instance}"[^}]*\\} [1-9]`));
    // The batched run did go through batches before NATS died.
    if (batched) expect(text).toMatch(/capture_ingest_batches_total\{outcome="stored"[^}]*\} [1-9]/);
    expect((await outboxBacklog(forTenant(pool, tenant.tenant), instance)).size).toBe(0);
  }, 90_000);
});
