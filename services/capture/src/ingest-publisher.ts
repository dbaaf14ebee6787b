import { encodeEnvelope, type EventEnvelope } from '@switchyard/schema';
import { backoffDelay, DEFAULT_BACKOFF, sleep, type BackoffOptions } from './backoff.ts';
import type { UnsequencedEvent } from './captured-event.ts';
import {
  checkpointSpool,
  deleteFromOutbox,
  NOT_CONTIGUOUS,
  outboxBacklog,
  pruneSpoolProgress,
  SPOOL_CONFLICT,
  spoolProgress,
  storeInOutbox,
  type OutboxEntry,
  type UnstoredEntry,
} from './outbox.ts';
import { createNumbering, type Numbering } from './numbering.ts';
import { createOutboxRelay, type InstancePublishing } from './outbox-relay.ts';
import { lastSeq, type SeqRange } from './sequence.ts';
import { DEFAULT_SPOOL_DIR, openSpool, type SpoolSettings, type SpoolWriter } from './spool.ts';
import { replayInstanceSpools } from './spool-replay.ts';

export interface IngestPublisherOptions extends InstancePublishing {
  /** The process's shared seq numbering (app.ts makes one); default: this instance's own. */
  numbering?: Numbering;
  /** PubAck wait per attempt. Default 5s. */
  publishTimeoutMs?: number;
  /** Delay between failed attempts (outbox writes and publishes alike). */
  backoff?: BackoffOptions;
  /** Most events stored by one outbox statement, and read per relay round. Default 500. */
  maxBatch?: number;
  /** PubAcks awaited at once (CAPTURE_PUBLISH_WINDOW). Default 256. */
  publishWindow?: number;
  /** The local spool (CAPTURE_SPOOL_DIR, CAPTURE_SPOOL_FSYNC). Default: DEFAULT_SPOOL_DIR, no fsync. */
  spool?: SpoolSettings;
  /** Largest encoded event NATS accepts (the server's max_payload). Default 1 MiB. */
  maxPayloadBytes?: number;
  /** How long `close` keeps trying to store staged events in the outbox. Default 5s. */
  closeGraceMs?: number;
  /** How often an idle relay looks for outbox rows another process stored. Default 60s. */
  recheckMs?: number;
}

export interface IngestPublisher {
  /** Spools events in order and returns at once; never throws, never waits on NATS or Postgres. */
  enqueue(events: readonly UnsequencedEvent[]): void;
  /** Resolves when every event enqueued so far is in the durable outbox (numbered). */
  stored(): Promise<void>;
  /** Resolves when every event enqueued so far is acknowledged by INGEST (or the publisher closed). */
  idle(): Promise<void>;
  /** Events enqueued and not yet acknowledged (staged plus waiting in the outbox). */
  pending(): number;
  /**
   * Stops the write and relay loops (in-flight steps finish first) and resolves with the number
   * of events that never reached the outbox. Those stay in the local spool (unless writing it
   * failed), which the next publisher of the instance, or the next start, replays; what waits in
   * the outbox stays there for whoever runs this instance next.
   */
  close(): Promise<number>;
}

/** An event spooled and waiting for its outbox write; `spoolEnd` undefined if the spool write failed. */
interface StagedEntry extends UnstoredEntry {
  spoolEnd: number | undefined;
}

/** How often an idle instance records how far its spool is acknowledged, at most. */
const CHECKPOINT_EVERY_MS = 1_000;

/** Room for the `"seq":N,` the relay adds to the stored bytes. */
const SEQ_ROOM = 32;

/**
 * One instance's durable, ordered path onto INGEST, in three steps:
 *
 * - `enqueue` (Baileys' handler, synchronous) encodes the events and appends them to the
 *   instance's local spool with one `writeSync`: from then on a SIGKILL cannot lose them;
 * - the writer numbers what is staged, one small statement per batch that allocates the seqs
 *   and records how far the spool is numbered (`numberBatch`); the events themselves do not go
 *   to Postgres. When NATS is failing or slow, the writer instead stores the batch in the
 *   Postgres outbox, with every published event INGEST has not acknowledged yet;
 * - the relay (outbox-relay.ts) publishes them from memory, pipelined, in seq order, while the
 *   writer numbers the next batch.
 *
 * After a crash, the spool's numbered run goes out again with its seqs and the rest is stored
 * (spool-replay.ts). Failures (NATS down or slow, Postgres down) are retried with backoff
 * forever; a retried publish reuses the event id as `Nats-Msg-Id`. While NATS is away the outbox
 * grows durably; while Postgres is away the spool does. Baileys only ever calls `enqueue`, so it
 * is never blocked.
 *
 * Only the replica holding the instance's lease runs this, so the outbox has one writer; a
 * publisher that starts first replays the instance's dead spools on this disk, then relays what
 * the outbox holds, then what it captures.
 */
export function createIngestPublisher(options: IngestPublisherOptions): IngestPublisher {
  const { js, db, tenant, instance, logger, metrics } = options;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const maxBatch = options.maxBatch ?? 500;
  const maxPayloadBytes = (options.maxPayloadBytes ?? 1024 * 1024) - SEQ_ROOM;
  const spoolSettings = options.spool ?? { dir: DEFAULT_SPOOL_DIR, fsync: 'never' };
  const labels = { tenant, instance };
  const log = logger.child(labels);
  const pendingGauge = metrics.pending.labels(labels);
  const numbering = options.numbering ?? createNumbering();

  const staged: StagedEntry[] = [];
  // Closing stops the relay at once but gives the writer a grace period: what Baileys handed
  // over should reach the outbox even when the session stops right after.
  const relayStopping = new AbortController();
  const writerStopping = new AbortController();
  const closeGraceMs = options.closeGraceMs ?? 5_000;
  const storedWaiters: Array<() => void> = [];
  let writer: Promise<void> | undefined;
  let closed = false;

  const spool: SpoolWriter = openSpool(spoolSettings, tenant, instance);
  let spoolBroken = false;
  // The spool file's runs as this writer left them (see the migration 000009): `numberedAt` is
  // its `numbered` offset; before `storedTo` everything is in the outbox or acknowledged; each
  // direct batch since then waits in `directRuns` for INGEST to acknowledge its last seq.
  let numberedAt = 0;
  let storedTo = 0;
  let directRuns: Array<{ last: number; end: number }> = [];
  let ackedTo = 0;
  // The last seq of the numbered run (the next direct batch must follow it) and the `consumed`
  // offset last written.
  let runLastSeq = 0;
  let persisted = 0;
  // Set when the relay starts failing: what it holds unacknowledged goes to the outbox even if
  // no new event comes to carry it there.
  let spillWanted = false;
  let checkpointing = false;
  let checkpointTimer: NodeJS.Timeout | undefined;

  const relay = createOutboxRelay({
    js,
    db,
    tenant,
    instance,
    logger: log,
    metrics,
    publishTimeoutMs: options.publishTimeoutMs ?? 5_000,
    backoff,
    window: options.publishWindow ?? 256,
    readBatch: maxBatch,
    memoryCap: Math.max(maxBatch * 40, 20_000),
    signal: relayStopping.signal,
    writerBusy: () => writer !== undefined,
    onIdle: () => idleCheckpoint(),
    onFailing: () => {
      spillWanted = true;
      startWriter();
    },
    ...(options.ingest ? { ingest: options.ingest } : {}),
    ...(options.recheckMs !== undefined ? { recheckMs: options.recheckMs } : {}),
  });
  const untrack = metrics.trackOutbox({
    tenant,
    instance,
    size: () => relay.waiting(),
    oldestAt: () => relay.oldestAt(),
  });

  /** Retries `work` until it succeeds; undefined once `signal` aborts. */
  async function untilDone<T>(signal: AbortSignal, what: string, work: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        return await work();
      } catch (err) {
        metrics.seqFailures.inc(labels);
        const delayMs = backoffDelay(attempt, backoff);
        log.warn({ err, attempt, delayMs }, `${what} failed; retrying`);
        await sleep(delayMs, signal);
      }
    }
    return undefined;
  }

  /** Before anything new: the instance's dead spools, then what the outbox holds. */
  async function start(): Promise<boolean> {
    const replayed = await untilDone(writerStopping.signal, 'spool replay', () =>
      replayInstanceSpools(db, js, spoolSettings.dir, tenant, instance, {
        maxBatch,
        logger: log,
        metrics,
        publishTimeoutMs: options.publishTimeoutMs ?? 5_000,
      }),
    );
    if (replayed === undefined) return false;
    const from = await untilDone(writerStopping.signal, 'outbox backlog read', async () => ({
      lastSeq: await lastSeq(db, instance),
      backlog: await outboxBacklog(db, instance),
    }));
    if (from === undefined) return false;
    pruneSpoolProgress(db, instance).catch((err: unknown) => log.warn({ err }, 'spool progress prune failed'));
    runLastSeq = from.lastSeq;
    relay.start({
      lastSeq: from.lastSeq,
      backlog: { ...from.backlog, oldestAt: from.backlog.oldestAt?.getTime() },
    });
    return true;
  }
  const started = start();

  /**
   * A message with a big inline thumbnail can exceed NATS' max_payload, and retrying it forever
   * would wedge the instance. Its readable fields (media descriptor included) are what the
   * pipeline needs, so it goes out without `raw` rather than not at all.
   */
  function encode(event: UnsequencedEvent): StagedEntry {
    // encodeEnvelope's bytes (JSON, UTF-8) by Buffer.from, which is several times cheaper than
    // TextEncoder for these strings on Node; the envelope was built by our mappers and is not
    // parsed again here.
    let payload: Uint8Array = Buffer.from(JSON.stringify(event));
    if (payload.byteLength > maxPayloadBytes && 'raw' in event.data) {
      const { raw: _raw, ...data } = event.data;
      metrics.rawDropped.inc(labels);
      log.error(
        { event_id: event.id, bytes: payload.byteLength, maxPayloadBytes },
        'event too large for NATS; publishing without data.raw',
      );
      payload = encodeEnvelope({ ...event, data } as EventEnvelope);
    }
    return { eventId: event.id, type: event.type, payload, spoolEnd: undefined };
  }

  function spoolEntries(entries: readonly UnstoredEntry[]): Array<number | undefined> {
    if (!spoolBroken) {
      try {
        return spool.append(entries);
      } catch (err) {
        // A full or failing disk: the events still go on through memory and the outbox (the
        // window a crash could lose until it is stored), and the spool is not used again.
        spoolBroken = true;
        metrics.seqFailures.inc(labels);
        log.error({ err }, 'spool write failed; events are held in memory until stored');
      }
    }
    return entries.map(() => undefined);
  }

  /** The next batch: a staged prefix that is either all spooled or all not. */
  function nextBatch(): StagedEntry[] {
    const spooled = staged[0]?.spoolEnd !== undefined;
    let n = 0;
    while (n < staged.length && n < maxBatch && (staged[n]!.spoolEnd !== undefined) === spooled) n++;
    return staged.slice(0, n);
  }

  /** How far the spool is acknowledged by INGEST or stored: what a replay may skip. */
  function durable(): number {
    const acked = relay.acked();
    while (directRuns[0] !== undefined && directRuns[0].last <= acked) ackedTo = directRuns.shift()!.end;
    return directRuns.length === 0 ? numberedAt : Math.max(storedTo, ackedTo);
  }

  /**
   * Stores events Baileys handed over, a batch at a time, in order. While the relay keeps up, a
   * spooled batch is only numbered (`numberBatch`, a small statement) and published from memory:
   * the spool is what keeps it until INGEST acknowledges it. When the relay is failing or behind
   * (`canTakeDirect`), when the seqs would not follow the numbered run, or when the spool could
   * not be written, the batch is stored in the outbox instead, together with every direct entry
   * still unacknowledged, which empties the numbered run.
   */
  async function writeStaged(): Promise<void> {
    if (!(await started)) return;
    while ((staged.length > 0 || spillWanted) && !writerStopping.signal.aborted) {
      const batch = nextBatch();
      const to = batch[batch.length - 1]?.spoolEnd;
      if (batch.length > 0 && to !== undefined && !spillWanted && relay.canTakeDirect(batch.length)) {
        const from = numberedAt;
        const consumedNow = durable();
        const request = { instance, count: batch.length, spool: spool.name, from, to, consumed: consumedNow, lastSeq: runLastSeq };
        const result = await untilDone(writerStopping.signal, 'seq allocation', () => numbering.number(db, request));
        if (result === undefined) return;
        let range = result;
        if (range === SPOOL_CONFLICT) {
          const adopted = await adoptNumbered(batch.length, to);
          if (adopted === false) return;
          if (adopted === undefined) {
            if (!(await resync())) return;
            continue;
          }
          range = adopted;
        }
        if (range !== NOT_CONTIGUOUS) {
          const first = range.first;
          const entries = batch.map((e, i) => ({ seq: first + i, eventId: e.eventId, type: e.type, payload: e.payload }));
          if (first !== relay.nextSeq()) {
            // Someone allocated in between (allowed, the run being empty): their rows must be
            // relayed before these, which the relay only does for stored entries.
            if (!(await storeNumbered(entries, to))) return;
            staged.splice(0, batch.length);
            relay.stored(entries, range);
            runLastSeq = range.last;
            continue;
          }
          staged.splice(0, batch.length);
          numberedAt = to;
          runLastSeq = range.last;
          persisted = Math.max(persisted, consumedNow);
          directRuns.push({ last: range.last, end: to });
          relay.numbered(entries, range);
          continue;
        }
        // Someone else allocated since the run's last seq: store this batch (and the run) instead.
      }
      spillWanted = false;
      const pending = relay.unackedDirect();
      if (batch.length === 0 && pending.length === 0) continue;
      const deleteUpto = relay.deletable();
      const from = numberedAt;
      const advance = to ?? (batch.length === 0 ? numberedAt : undefined);
      const result = await untilDone(writerStopping.signal, 'outbox write', () =>
        storeInOutbox(db, instance, batch, {
          ...(pending.length > 0 ? { numbered: pending } : {}),
          ...(advance !== undefined ? { spool: { spool: spool.name, from, to: advance } } : {}),
          ...(deleteUpto !== undefined ? { deleteUpto } : {}),
        }),
      );
      if (result === undefined) return;
      if (result === SPOOL_CONFLICT) {
        if (!(await resync())) return;
        continue;
      }
      if (pending.length > 0) log.info({ count: pending.length }, 'unacknowledged events stored in the outbox');
      storedUpTo(advance);
      staged.splice(0, batch.length);
      // An empty batch allocated nothing: `result.last` may then be someone else's seq.
      if (batch.length > 0) runLastSeq = result.last;
      if (deleteUpto !== undefined) relay.deleted(deleteUpto);
      if (batch.length > 0) {
        const entries: OutboxEntry[] = batch.map((e, i) => ({
          seq: result.first + i,
          eventId: e.eventId,
          type: e.type,
          payload: e.payload,
        }));
        relay.stored(entries, result);
      }
    }
  }

  /**
   * Stores `entries`, numbered up to `to` already, with whatever direct entries are unacknowledged,
   * at their own seqs; the spool's run is empty after it. False when stopping.
   */
  async function storeNumbered(entries: OutboxEntry[], to: number): Promise<boolean> {
    const pending = relay.unackedDirect();
    const result = await untilDone(writerStopping.signal, 'outbox write', () =>
      storeInOutbox(db, instance, [], { numbered: [...pending, ...entries], spool: { spool: spool.name, from: to, to } }),
    );
    if (result === undefined) return false;
    if (result === SPOOL_CONFLICT) throw new Error(`spool ${spool.name} moved past ${to} under its writer`);
    storedUpTo(to);
    return true;
  }

  /**
   * A store statement took every unacknowledged direct entry and, with a spool offset, moved
   * both of the file's offsets to `to`: the numbered run is empty.
   */
  function storedUpTo(to: number | undefined): void {
    relay.directStored();
    if (to === undefined) return;
    numberedAt = storedTo = persisted = to;
    directRuns = [];
  }

  /**
   * A numbering statement answered SPOOL_CONFLICT: if it was this batch's own, committed with its
   * answer lost, the progress row says so and the batch takes the seqs it got (undefined: it was
   * not; false: stopping).
   */
  async function adoptNumbered(count: number, to: number): Promise<SeqRange | undefined | false> {
    const facts = await untilDone(writerStopping.signal, 'spool offset read', () => spoolProgress(db, instance, spool.name));
    if (facts === undefined) return false;
    if (facts.numbered !== to) return undefined;
    return { first: facts.numberedLastSeq - count + 1, last: facts.numberedLastSeq };
  }

  /**
   * When the relay or the writer has nothing left: a spool fully acknowledged and large is
   * replaced by a fresh file; otherwise how far it is acknowledged is recorded, at most once a
   * second (the next numbering statement records it too). Only for a replay's sake: what it
   * covers is not published again after a crash.
   */
  function idleCheckpoint(): void {
    if (writer !== undefined || staged.length > 0 || closed) return;
    const upto = durable();
    if (upto === spool.size() && directRuns.length === 0 && !checkpointing && spool.rotateIfConsumed(upto)) {
      numberedAt = storedTo = ackedTo = persisted = 0;
      return;
    }
    if (upto <= persisted || checkpointTimer !== undefined) return;
    checkpointTimer = setTimeout(() => {
      checkpointTimer = undefined;
      const at = durable();
      if (at <= persisted || checkpointing || closed) return;
      checkpointing = true;
      const file = spool.name;
      checkpointSpool(db, instance, file, at)
        .then(() => {
          if (spool.name === file) persisted = Math.max(persisted, at);
        })
        .catch((err: unknown) => log.warn({ err }, 'spool checkpoint failed; the next one covers it'))
        .finally(() => {
          checkpointing = false;
        });
    }, CHECKPOINT_EVERY_MS);
    checkpointTimer.unref();
  }

  /**
   * The spool's offset was not where this writer left it: an earlier attempt committed although
   * its answer was lost (or something else stored from this file). What the offset covers is in
   * the outbox with seqs this writer never saw; drop it from staging and let the relay read it back.
   */
  async function resync(): Promise<boolean> {
    const facts = await untilDone(writerStopping.signal, 'spool offset read', async () => ({
      progress: await spoolProgress(db, instance, spool.name),
      last: await lastSeq(db, instance),
    }));
    if (facts === undefined) return false;
    const now = facts.progress.numbered;
    let dropped = 0;
    while (staged[0]?.spoolEnd !== undefined && staged[0].spoolEnd <= now) {
      staged.shift();
      dropped++;
    }
    log.warn({ spool: spool.name, from: numberedAt, now, dropped }, 'spool already stored up to here; reading those events back');
    // A store statement moves both offsets together: what was pending direct is stored too.
    storedUpTo(now);
    runLastSeq = facts.last;
    relay.storedUnseen(facts.last, dropped);
    return true;
  }

  function startWriter(): void {
    if (writer !== undefined || writerStopping.signal.aborted) return;
    writer = writeStaged()
      .catch((err: unknown) => log.error({ err }, 'outbox writer failed'))
      .finally(() => {
        writer = undefined;
        if ((staged.length > 0 || spillWanted) && !writerStopping.signal.aborted) startWriter();
        else if (staged.length === 0) {
          for (const resolve of storedWaiters.splice(0)) resolve();
          idleCheckpoint();
        }
      });
  }

  function stored(): Promise<void> {
    if (staged.length === 0 && writer === undefined) return Promise.resolve();
    return new Promise((resolve) => storedWaiters.push(resolve));
  }

  async function idle(): Promise<void> {
    while (!closed) {
      await stored();
      await relay.drained();
      if (staged.length === 0 && writer === undefined) return;
    }
  }

  return {
    enqueue(events) {
      if (events.length === 0) return;
      if (closed) {
        log.error({ count: events.length }, 'events captured after the ingest publisher closed; not published');
        return;
      }
      const entries = events.map(encode);
      const ends = spoolEntries(entries);
      for (const [i, entry] of entries.entries()) {
        entry.spoolEnd = ends[i];
        staged.push(entry);
      }
      pendingGauge.inc(events.length);
      startWriter();
    },
    stored,
    idle,
    pending: () => staged.length + relay.waiting(),
    async close() {
      if (closed) return 0;
      closed = true;
      clearTimeout(checkpointTimer);
      relayStopping.abort();
      await relay.stopped();
      // Published but unacknowledged events exist only here and in the spool: store them, so the
      // next owner (maybe another replica, another disk) relays them.
      if (relay.unackedDirect().length > 0) {
        spillWanted = true;
        startWriter();
      }
      if (writer !== undefined) {
        const grace = setTimeout(() => writerStopping.abort(), closeGraceMs);
        await stored();
        clearTimeout(grace);
      }
      writerStopping.abort();
      await writer;
      // What INGEST acknowledged need not wait for the next owner; leaving it is harmless too.
      const deletable = relay.deletable();
      if (deletable !== undefined) {
        await deleteFromOutbox(db, instance, deletable).catch((err: unknown) =>
          log.warn({ err }, 'clearing what INGEST acknowledged from the outbox at close failed; the next owner relays it again, a duplicate INGEST drops'),
        );
      }
      const lost = staged.length;
      const unspooled = staged.filter((e) => e.spoolEnd === undefined).length;
      if (lost > 0) {
        log.error(
          { count: lost, unspooled },
          'ingest publisher closed before these events reached the outbox; the spool keeps them for a replay',
        );
      }
      const consumed = durable();
      if (consumed < spool.size() && consumed > persisted) {
        await checkpointSpool(db, instance, spool.name, consumed).catch((err: unknown) => log.warn({ err }, 'spool checkpoint failed'));
      }
      spool.close(consumed);
      const waiting = relay.waiting();
      if (waiting > 0) log.info({ count: waiting }, 'events left in the outbox for the next owner to relay');
      pendingGauge.dec(lost + waiting);
      untrack();
      for (const resolve of storedWaiters.splice(0)) resolve();
      return lost;
    },
  };
}
