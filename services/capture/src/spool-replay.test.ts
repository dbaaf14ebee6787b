import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forTenant, type Pool } from '@switchyard/db';
import { ensureStreams, publishEvent } from '@switchyard/nats';
import { createMetricsRegistry } from '@switchyard/runtime';
import { encodeEnvelope, ingestSubject, parseEnvelope, STREAMS, type EventEnvelope } from '@switchyard/schema';
import {
  createTestPool,
  createTestTenant,
  startNatsServer,
  type NatsServer,
  type TestTenant,
} from '@switchyard/testing';
import { createBatchMapper } from './mappers/batch-mapper.ts';
import type { UnsequencedEvent } from './captured-event.ts';
import { captureMetrics } from './metrics.ts';
import { NOT_CONTIGUOUS, numberBatch, numberBatches, outboxBacklog, sequencedBytes, SPOOL_CONFLICT, spoolProgress, storeInOutbox } from './outbox.ts';
import { lastSeq } from './sequence.ts';
import { deadSpools, openSpool, type SpoolEntry } from './spool.ts';
import { createIngestPublisher } from './ingest-publisher.ts';
import { recoverSpools, replaySpool } from './spool-replay.ts';
import { capturing, readStream, silentLogger, upsertWithId } from './test-support.ts';


describe('local spool', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let pool: Pool;
  let tenant: TestTenant;
  let dir: string;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    await ensureStreams(await nc.jetstreamManager());
    pool = await createTestPool();
    tenant = await createTestTenant(pool);
    dir = mkdtempSync(join(tmpdir(), 'capture-spool-test-'));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await tenant.cleanup();
    await pool.end();
    await nc.close();
    await server.stop();
  });

  /** Envelope entries as Baileys' handler would have spooled them: mapped from recorded upserts. */
  function mapped(instance: string, ids: string[]): SpoolEntry[] {
    const map = createBatchMapper({ tenant: tenant.tenant, instance, self: undefined, historyPartBytes: undefined });
    const events: UnsequencedEvent[] = [];
    for (const id of ids)
      map({ 'messages.upsert': upsertWithId(id) }, new Date(), {
        emit: (e) => events.push(e),
        skip: () => undefined,
        fail: (err) => {
          throw err;
        },
      });
    return events.map((e) => ({ eventId: e.id, type: e.type, payload: encodeEnvelope(e as EventEnvelope) }));
  }

  async function ingested(instance: string): Promise<EventEnvelope[]> {
    const out: EventEnvelope[] = [];
    for (const m of await readStream(await nc.jetstreamManager(), STREAMS.ingest)) {
      const parsed = parseEnvelope(m.data);
      if (parsed.ok && parsed.event.tenant === tenant.tenant && parsed.event.instance === instance)
        out.push(parsed.event);
    }
    return out;
  }

  /**
   * A new owner of `instance` starts (replaying what its spool dir holds), captures `count` more
   * messages and stops; INGEST must then hold `before` and those, in order, once each, with seqs
   * 1, 2, 3 …
   */
  async function newOwnerCaptures(instance: string, prefix: string, count: number, before: string[]): Promise<void> {
    const where = { tenant: tenant.tenant, js: nc.jetstream(), db: forTenant(pool, tenant.tenant) };
    const { adapter, emit, ids: more } = capturing(where, instance, { spool: { dir, fsync: 'never' }, publishWindow: 8 }, [], prefix);
    try {
      emit(count);
      await adapter.idle();
    } finally {
      await adapter.close();
    }
    const events = await ingested(instance);
    expect(events.map((e) => ('message_id' in e.data ? e.data.message_id : undefined))).toEqual([...before, ...more]);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  }

  it('replays exactly the spool tail a crash kept from the outbox: every event once, in order, seq continuing', async () => {
    const instance = 'crashed';
    const db = forTenant(pool, tenant.tenant);
    const ids = Array.from({ length: 50 }, (_, i) => `spool-${i + 1}`);
    // The "crashed" writer: spooled 50 events, stored the first 20 in the outbox (moving the
    // spool's offset in the same statement), then died; its last write was torn.
    const spool = openSpool({ dir, fsync: 'never' }, tenant.tenant, instance);
    const entries = mapped(instance, ids);
    const ends = spool.append(entries);
    const stored = await storeInOutbox(db, instance, entries.slice(0, 20), {
      spool: { spool: spool.name, from: 0, to: ends[19]! },
    });
    expect(stored).toEqual({ first: 1, last: 20 });
    spool.close(ends[19]!);
    const [file] = deadSpools(dir, tenant.tenant, instance);
    if (file === undefined) throw new Error('the crashed spool is not seen as dead');
    appendFileSync(file.path, Buffer.from([0x40, 0, 0, 0, 1, 2, 3]));

    // A new owner starts: it replays the 30 that never reached the outbox, relays all 50, then
    // what it captures itself.
    await newOwnerCaptures(instance, 'spool-new', 10, ids);
    expect(await lastSeq(db, instance)).toBe(60);
    expect((await outboxBacklog(db, instance)).size).toBe(0);
    // Replayed, then the new owner's own spool consumed and closed: nothing left on disk.
    const left = readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.spool'));
    expect(left).toEqual([]);
  }, 60_000);

  it("republishes a dead writer's numbered run with its own seqs and stores the rest: every event once, seq contiguous", async () => {
    const instance = 'numbered-run';
    const db = forTenant(pool, tenant.tenant);
    const js = nc.jetstream();
    const ids = Array.from({ length: 30 }, (_, i) => `run-${i + 1}`);
    // The dead writer: spooled 30, numbered the first 20 in two batches (publishing them from
    // memory, never storing them), got 12 onto INGEST, recorded 5 as acknowledged, and died.
    const spool = openSpool({ dir, fsync: 'never' }, tenant.tenant, instance);
    const entries = mapped(instance, ids);
    const ends = spool.append(entries);
    expect(await numberBatch(db, instance, 10, { spool: spool.name, from: 0, to: ends[9]!, consumed: 0, lastSeq: 0 })).toEqual({ first: 1, last: 10 });
    expect(await numberBatch(db, instance, 10, { spool: spool.name, from: ends[9]!, to: ends[19]!, consumed: ends[4]!, lastSeq: 10 })).toEqual({ first: 11, last: 20 });
    for (const [i, entry] of entries.slice(0, 12).entries()) {
      await publishEvent(js, ingestSubject(tenant.tenant, instance, entry.type), sequencedBytes({ ...entry, seq: i + 1 }), { msgId: entry.eventId });
    }
    spool.close(ends[4]!);
    expect(deadSpools(dir, tenant.tenant, instance)).toHaveLength(1);

    // A new owner: the run (6–20) goes out again with its seqs, 6–12 as duplicates; 21–30 get
    // seqs in the outbox; then its own events follow.
    await newOwnerCaptures(instance, 'run-new', 5, ids);
    expect((await outboxBacklog(db, instance)).size).toBe(0);
  }, 60_000);

  it('numbers a batch only after the run it extends, and says so when someone else allocated in between', async () => {
    const instance = 'not-contiguous';
    const db = forTenant(pool, tenant.tenant);
    const spool = openSpool({ dir, fsync: 'never' }, tenant.tenant, instance);
    const ends = spool.append(mapped(instance, ['nc-1', 'nc-2', 'nc-3', 'nc-4']));
    expect(await numberBatch(db, instance, 2, { spool: spool.name, from: 0, to: ends[1]!, consumed: 0, lastSeq: 0 })).toEqual({ first: 1, last: 2 });
    // A replay elsewhere takes seq 3 while 1–2 are unacknowledged: 4–5 would not follow the run.
    await storeInOutbox(db, instance, mapped(instance, ['elsewhere-1']));
    expect(await numberBatch(db, instance, 2, { spool: spool.name, from: ends[1]!, to: ends[3]!, consumed: 0, lastSeq: 2 })).toBe(NOT_CONTIGUOUS);
    // The same retried as if its answer had been lost: the offset no longer says `from`.
    expect(await numberBatch(db, instance, 2, { spool: spool.name, from: 0, to: ends[1]!, consumed: 0, lastSeq: 0 })).toBe(SPOOL_CONFLICT);
    // Once 1–2 are acknowledged the run is empty and any seqs do.
    expect(await numberBatch(db, instance, 2, { spool: spool.name, from: ends[1]!, to: ends[3]!, consumed: ends[1]!, lastSeq: 2 })).toEqual({ first: 4, last: 5 });
    expect(await spoolProgress(db, instance, spool.name)).toEqual({ consumed: ends[1]!, numbered: ends[3]!, numberedLastSeq: 5 });
    spool.close(ends[3]!);
  });

  it('numbers several instances in one statement, each answered as it would be alone', async () => {
    const db = forTenant(pool, tenant.tenant);
    const names = ['multi-fresh', 'multi-next', 'multi-gap', 'multi-lost'];
    const spools = new Map(names.map((n) => [n, openSpool({ dir, fsync: 'never' }, tenant.tenant, n)]));
    const ends = new Map(names.map((n) => [n, spools.get(n)!.append(mapped(n, [`${n}-1`, `${n}-2`, `${n}-3`]))]));
    const end = (n: string, i: number) => ends.get(n)![i]!;
    const request = (instance: string, count: number, options: { from: number; to: number; consumed: number; lastSeq: number }) => ({
      instance,
      count,
      spool: spools.get(instance)!.name,
      ...options,
    });
    // Before: multi-next has numbered one event, multi-gap one that someone else followed with
    // an outbox row, multi-lost one whose answer its writer never got.
    for (const n of ['multi-next', 'multi-gap', 'multi-lost'])
      expect(await numberBatch(db, n, 1, { spool: spools.get(n)!.name, from: 0, to: end(n, 0), consumed: 0, lastSeq: 0 })).toEqual({ first: 1, last: 1 });
    await storeInOutbox(db, 'multi-gap', mapped('multi-gap', ['elsewhere']));

    const answers = await numberBatches(db, [
      request('multi-fresh', 3, { from: 0, to: end('multi-fresh', 2), consumed: 0, lastSeq: 0 }),
      request('multi-next', 2, { from: end('multi-next', 0), to: end('multi-next', 2), consumed: 0, lastSeq: 1 }),
      request('multi-gap', 2, { from: end('multi-gap', 0), to: end('multi-gap', 2), consumed: 0, lastSeq: 1 }),
      request('multi-lost', 1, { from: 0, to: end('multi-lost', 0), consumed: 0, lastSeq: 0 }),
    ]);
    expect(answers).toEqual([{ first: 1, last: 3 }, { first: 2, last: 3 }, NOT_CONTIGUOUS, SPOOL_CONFLICT]);
    // Only the two answered with seqs moved their counters and their files' offsets.
    expect(await Promise.all(names.map((n) => lastSeq(db, n)))).toEqual([3, 3, 2, 1]);
    expect(await spoolProgress(db, 'multi-fresh', spools.get('multi-fresh')!.name)).toEqual({ consumed: 0, numbered: end('multi-fresh', 2), numberedLastSeq: 3 });
    expect(await spoolProgress(db, 'multi-next', spools.get('multi-next')!.name)).toEqual({ consumed: 0, numbered: end('multi-next', 2), numberedLastSeq: 3 });
    expect(await spoolProgress(db, 'multi-gap', spools.get('multi-gap')!.name)).toEqual({ consumed: 0, numbered: end('multi-gap', 0), numberedLastSeq: 1 });
    // One statement updates a row once: the same instance twice is refused before anything runs.
    await expect(numberBatches(db, [request('multi-fresh', 1, { from: 0, to: 1, consumed: 0, lastSeq: 0 }), request('multi-fresh', 1, { from: 0, to: 1, consumed: 0, lastSeq: 0 })])).rejects.toThrow(/twice/);
    for (const [n, spool] of spools) spool.close(end(n, 2));
  });

  it.each([
    ['noticed while idle', 'owned-here', 200],
    ['found by its next batch', 'owned-busy', 60_000],
  ])("relays a spool another replica replayed into an instance this one runs, after its own events and before its next (%s)", async (_when, instance, recheckMs) => {
    const db = forTenant(pool, tenant.tenant);
    const events = (ids: string[]): UnsequencedEvent[] =>
      mapped(instance, ids).map((e) => JSON.parse(Buffer.from(e.payload).toString()) as UnsequencedEvent);
    const publisher = createIngestPublisher({
      js: nc.jetstream(),
      db,
      tenant: tenant.tenant,
      instance,
      logger: silentLogger,
      metrics: captureMetrics(createMetricsRegistry('capture')),
      spool: { dir, fsync: 'never' },
      recheckMs,
    });
    try {
      publisher.enqueue(events(['own-1', 'own-2', 'own-3']));
      await publisher.idle();
      // Another replica's startup recovery stores a spool it found for this instance.
      const elsewhere = mkdtempSync(join(tmpdir(), 'capture-spool-elsewhere-'));
      const spool = openSpool({ dir: elsewhere, fsync: 'never' }, tenant.tenant, instance);
      spool.append(mapped(instance, ['replayed-1', 'replayed-2']));
      spool.close(0);
      await recoverSpools({
        dir: elsewhere,
        pool,
        js: nc.jetstream(),
        tenants: [tenant.tenant],
        logger: silentLogger,
        metrics: captureMetrics(createMetricsRegistry('capture')),
      });
      rmSync(elsewhere, { recursive: true, force: true });
      // The idle owner notices the seqs it did not allocate and relays them; or, not looking for
      // a minute, its next batch's seqs come after them and it reads them back first.
      const deadline = Date.now() + (recheckMs < 1_000 ? 10_000 : 0);
      while ((await ingested(instance)).length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      publisher.enqueue(events(['own-4']));
      await publisher.idle();
    } finally {
      await publisher.close();
    }
    const got = await ingested(instance);
    expect(got.map((e) => ('message_id' in e.data ? e.data.message_id : undefined))).toEqual([
      'own-1',
      'own-2',
      'own-3',
      'replayed-1',
      'replayed-2',
      'own-4',
    ]);
    expect(got.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await outboxBacklog(db, instance)).size).toBe(0);
  }, 30_000);

  it('stores a spool once when two replayers race over it', async () => {
    const instance = 'raced';
    const db = forTenant(pool, tenant.tenant);
    const spool = openSpool({ dir, fsync: 'never' }, tenant.tenant, instance);
    const ids = Array.from({ length: 120 }, (_, i) => `race-${i + 1}`);
    spool.append(mapped(instance, ids));
    spool.close(0);
    const [file] = deadSpools(dir, tenant.tenant, instance);
    if (file === undefined) throw new Error('no dead spool');
    const options = { maxBatch: 7, logger: silentLogger };
    const counts = await Promise.all([replaySpool(db, nc.jetstream(), file, options), replaySpool(db, nc.jetstream(), file, options)]);
    expect(counts[0] + counts[1]).toBe(120);
    const rows = await db.query<{ event_id: string; seq: string }>(
      `SELECT o.event_id, o.seq::text AS seq FROM :SCHEMA.capture_outbox o WHERE o.instance = $1 ORDER BY o.seq`,
      [instance],
    );
    expect(rows.rows.map((r) => Number(r.seq))).toEqual(ids.map((_, i) => i + 1));
    expect(new Set(rows.rows.map((r) => r.event_id)).size).toBe(120);
  });
});
