import type { JetStreamClient } from 'nats';
import type { TenantQueryable } from '@switchyard/db';
import { publishEvent, type PublishResult } from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import { ingestSubject } from '@switchyard/schema';
import { backoffDelay, sleep, type BackoffOptions } from './backoff.ts';
import type { IngestBatcher } from './ingest-batcher.ts';
import { lastSeq, type SeqRange } from './sequence.ts';
import type { CaptureMetrics } from './metrics.ts';
import { deleteFromOutbox, readOutbox, sequencedBytes, type OutboxEntry } from './outbox.ts';

/** One WhatsApp instance's publishing context, shared by its publisher and its outbox relay. */
export interface InstancePublishing {
  js: JetStreamClient;
  /** The tenant's scoped handle (forTenant): the seq counter and the outbox live in the tenant schema. */
  db: TenantQueryable;
  tenant: string;
  instance: string;
  logger: Logger;
  metrics: CaptureMetrics;
  /**
   * The process's shared way onto INGEST (atomic batches across instances); without it each
   * event is its own acknowledged publish.
   */
  ingest?: IngestBatcher;
}

export interface OutboxRelayOptions extends InstancePublishing {
  publishTimeoutMs: number;
  backoff: BackoffOptions;
  /** PubAcks awaited at once. */
  window: number;
  /** Rows per outbox read-back. */
  readBatch: number;
  /** Most stored entries held in memory; beyond it the relay reads them back from the outbox. */
  memoryCap: number;
  /** Stops sending; what is in flight settles first. */
  signal: AbortSignal;
  /**
   * How often an idle relay checks the instance's seq for rows another process stored (a spool
   * replayed at another replica's start). Default 60s.
   */
  recheckMs?: number;
  /** Whether the writer has an outbox statement in flight (its seqs are not foreign). */
  writerBusy: () => boolean;
  /** Most direct entries (published without being stored) awaiting their PubAck at once. */
  directCap?: number;
  /** Called each time the relay has nothing left to send (everything handed is acknowledged). */
  onIdle?: () => void;
  /** Called when a publish fails (the relay then waits and re-sends): direct entries should be stored. */
  onFailing?: () => void;
}

/** What the outbox held when the relay started (left by a previous owner or a crash). */
export interface RelayStart {
  /** The instance's last allocated seq. */
  lastSeq: number;
  backlog: { size: number; firstSeq: number; lastSeq: number; oldestAt: number | undefined };
}

export interface OutboxRelay {
  /** Starts relaying from what the outbox holds; the writer stores nothing before this. */
  start(from: RelayStart): void;
  /** The writer stored `entries` as `range` (in memory still, so usually no read-back). */
  stored(entries: readonly OutboxEntry[], range: SeqRange): void;
  /** Whether `count` more entries may be published straight from memory (see `numbered`). */
  canTakeDirect(count: number): boolean;
  /**
   * The writer numbered `entries` as `range` without storing them: they are published from
   * memory and never dropped from it. Only when `canTakeDirect` said so.
   */
  numbered(entries: readonly OutboxEntry[], range: SeqRange): void;
  /** The direct entries not yet acknowledged, in seq order (what a spill must store). */
  unackedDirect(): OutboxEntry[];
  /** The writer stored every entry `unackedDirect` returned: they are outbox rows now. */
  directStored(): void;
  /** The highest seq acknowledged so far (every one below it too). */
  acked(): number;
  /** The seq `numbered` takes next: anything else must go through `stored`. */
  nextSeq(): number;
  /** `count` of the writer's events are stored at seqs up to `upto` it did not see: read them back. */
  storedUnseen(upto: number, count: number): void;
  /** Entries up to this seq may be deleted from the outbox (undefined: nothing new). */
  deletable(): number | undefined;
  /** The writer's statement deleted the entries up to `upto`. */
  deleted(upto: number): void;
  /** Entries stored and not yet acknowledged by INGEST. */
  waiting(): number;
  /** Epoch ms the oldest unacknowledged entry was stored. */
  oldestAt(): number | undefined;
  /** Resolves when everything stored so far is acknowledged (or the relay stopped). */
  drained(): Promise<void>;
  /** Resolves once the loop has stopped (after `signal` aborted) and in-flight publishes settled. */
  stopped(): Promise<void>;
}

type Outcome = { ok: true; result: PublishResult } | { ok: false; err: unknown };

interface InFlight {
  entry: OutboxEntry;
  outcome: Promise<Outcome>;
  /** Set when the publish settled: the relay reads every settled head at once. */
  settled: Outcome | undefined;
}

/**
 * Publishes one instance's stored events onto INGEST in seq order, pipelined: up to `window`
 * publishes are awaiting their PubAck at once, all sent in seq order on one connection, which
 * JetStream stores in that order. Entries reach it from the writer in memory; it reads the outbox
 * back only for what it did not get that way — a previous owner's backlog, rows another process
 * stored (a gap in the seqs the writer got), or what exceeded the memory cap while NATS was away.
 *
 * On a failed publish it lets everything in flight settle and sends again from the first
 * unacknowledged entry, in order; later ones that had landed come back as Nats-Msg-Id duplicates.
 * (A failure followed by a success in the same window means JetStream stored a later event before
 * an earlier one — only possible when the server rejects one message and accepts the next; nats.js
 * discards what it buffered during a disconnect. It is counted and logged.)
 *
 * Acknowledged entries are deleted in bulk: by the writer's next outbox statement, or by one
 * DELETE when the relay goes idle or the writer is quiet.
 */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { js, db, tenant, instance, metrics, signal, window } = options;
  const log = options.logger;
  const labels = { tenant, instance };
  const pendingGauge = metrics.pending.labels(labels);
  const capturedByType = new Map<string, ReturnType<typeof metrics.captured.labels>>();
  const debug = log.isLevelEnabled('debug');

  // Seqs: everything ≤ handedUpto that was stored is in `ready`, in flight or acknowledged;
  // (handedUpto, storedUpto] must be read back from the outbox.
  let storedUpto = 0;
  let handedUpto = 0;
  let ackedUpto = 0;
  let deletedUpto = 0;
  // The highest acknowledged seq that is an outbox row (direct entries are not): what to delete.
  let storedAckedUpto = 0;
  // Publish failures since the last success: no direct entries are taken while there are any.
  let failing = 0;
  // Seq ranges other processes stored (spool replays), counted when read back.
  const foreign: SeqRange[] = [];
  let ready: OutboxEntry[] = [];
  let readyHead = 0;
  let inflight: InFlight[] = [];
  let waiting = 0;
  const batches: Array<{ lastSeq: number; at: number }> = [];
  let wake: (() => void) | undefined;
  const drainWaiters: Array<() => void> = [];
  let deleting = false;
  let started: ((from: RelayStart | undefined) => void) | undefined;
  const startSignal = new Promise<RelayStart | undefined>((resolve) => (started = resolve));

  const readyCount = (): number => ready.length - readyHead;
  function takeReady(): OutboxEntry {
    const entry = ready[readyHead++]!;
    if (readyHead > 1024 && readyHead * 2 > ready.length) {
      ready = ready.slice(readyHead);
      readyHead = 0;
    }
    return entry;
  }
  function poke(): void {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  }

  function send(entry: OutboxEntry): InFlight {
    const subject = ingestSubject(tenant, instance, entry.type);
    const flight: InFlight = { entry, outcome: Promise.resolve({ ok: false, err: undefined }), settled: undefined };
    const bytes = sequencedBytes(entry);
    const published = options.ingest
      ? options.ingest.publish(subject, bytes, entry.eventId, options.publishTimeoutMs)
      : publishEvent(js, subject, bytes, { msgId: entry.eventId, timeoutMs: options.publishTimeoutMs });
    flight.outcome = published.then(
      (result): Outcome => (flight.settled = { ok: true, result }),
      (err: unknown): Outcome => (flight.settled = { ok: false, err }),
    );
    return flight;
  }

  let ackedSinceFlush = 0;
  function acknowledged(entry: OutboxEntry, result: PublishResult): void {
    ackedUpto = entry.seq;
    if (entry.direct !== true) storedAckedUpto = entry.seq;
    ackedSinceFlush++;
    let counter = capturedByType.get(entry.type);
    if (counter === undefined) {
      counter = metrics.captured.labels({ ...labels, type: entry.type });
      capturedByType.set(entry.type, counter);
    }
    counter.inc();
    if (debug)
      log.debug(
        { event_id: entry.eventId, seq: entry.seq, duplicate: result.duplicate },
        'event on INGEST',
      );
  }
  function flushAcks(): void {
    if (ackedSinceFlush === 0) return;
    waiting = Math.max(0, waiting - ackedSinceFlush);
    pendingGauge.dec(ackedSinceFlush);
    ackedSinceFlush = 0;
    while (batches[0] !== undefined && batches[0].lastSeq <= ackedUpto) batches.shift();
  }

  /** Reads back (handedUpto, storedUpto] a page at a time into `ready`. */
  async function readBack(): Promise<void> {
    const upto = storedUpto;
    const rows = await readOutbox(db, instance, handedUpto, options.readBatch);
    for (const row of rows) {
      if (row.seq <= handedUpto) continue;
      if (foreign.some((r) => row.seq >= r.first && row.seq <= r.last)) {
        waiting++;
        pendingGauge.inc();
      }
      ready.push(row);
    }
    const last = rows[rows.length - 1]?.seq;
    // A short page saw every row committed before it started, which includes all ≤ upto.
    handedUpto = rows.length === options.readBatch && last !== undefined ? last : Math.max(handedUpto, upto, last ?? 0);
    while (foreign[0] !== undefined && foreign[0].last <= handedUpto) foreign.shift();
  }

  function deleteInBackground(): void {
    if (deleting || storedAckedUpto <= deletedUpto) return;
    deleting = true;
    const upto = storedAckedUpto;
    deleteFromOutbox(db, instance, upto).then(
      () => {
        deletedUpto = Math.max(deletedUpto, upto);
        deleting = false;
      },
      (err: unknown) => {
        // Harmless to leave: a re-sent entry is a Nats-Msg-Id duplicate; the next delete covers it.
        metrics.seqFailures.inc(labels);
        log.warn({ err }, 'outbox delete failed; retried with the next one');
        deleting = false;
      },
    );
  }

  let lastRecheck = Date.now();
  /** When idle: rows stored by another process (a spool replay elsewhere) show as a higher seq. */
  async function recheckForeign(): Promise<void> {
    const quiet = (): boolean =>
      !signal.aborted && !options.writerBusy() && readyCount() === 0 && inflight.length === 0 && handedUpto === storedUpto;
    if (!quiet() || Date.now() - lastRecheck < (options.recheckMs ?? 60_000)) return;
    lastRecheck = Date.now();
    try {
      const last = await lastSeq(db, instance);
      if (last <= storedUpto || !quiet()) return;
      foreign.push({ first: storedUpto + 1, last });
      batches.push({ lastSeq: last, at: Date.now() });
      storedUpto = last;
    } catch (err) {
      log.warn({ err }, 'outbox recheck failed');
    }
  }

  /** After a failed publish: let the window settle, then resend from the first unacknowledged. */
  async function recover(attempt: number): Promise<void> {
    const outcomes = await Promise.all(inflight.map((f) => f.outcome));
    const firstFailure = outcomes.findIndex((o) => !o.ok);
    const failed = outcomes[firstFailure];
    const overtaken = outcomes.slice(firstFailure + 1).filter((o) => o.ok && !o.result.duplicate).length;
    if (overtaken > 0) {
      metrics.publishReordered.inc(labels, overtaken);
      log.error(
        { seq: inflight[firstFailure]?.entry.seq, overtaken },
        'INGEST stored later events before a failed one; it is re-sent after them',
      );
    }
    // Everything from the failed one on goes back to the front of the queue, in order.
    const retry = inflight.slice(firstFailure).map((f) => f.entry);
    for (const [i, f] of inflight.slice(0, firstFailure).entries()) {
      const outcome = outcomes[i];
      if (outcome?.ok) acknowledged(f.entry, outcome.result);
    }
    flushAcks();
    inflight = [];
    ready = [...retry, ...ready.slice(readyHead)];
    readyHead = 0;
    metrics.publishFailures.inc(labels);
    failing = attempt;
    options.onFailing?.();
    const delayMs = backoffDelay(attempt, options.backoff);
    log.warn(
      { err: failed && !failed.ok ? failed.err : undefined, attempt, delayMs, seq: retry[0]?.seq },
      'INGEST publish failed; retrying from the first unacknowledged event',
    );
    await sleep(delayMs, signal);
  }

  async function run(): Promise<void> {
    if ((await startSignal) === undefined) return;
    let failures = 0;
    let readFailures = 0;
    while (!signal.aborted) {
      if (readyCount() < window && handedUpto < storedUpto) {
        try {
          await readBack();
          readFailures = 0;
        } catch (err) {
          metrics.seqFailures.inc(labels);
          const delayMs = backoffDelay(++readFailures, options.backoff);
          log.warn({ err, delayMs }, 'outbox read failed; retrying');
          if (inflight.length === 0) await sleep(delayMs, signal);
        }
      }
      while (inflight.length < window && readyCount() > 0) inflight.push(send(takeReady()));
      const head = inflight[0];
      if (head === undefined) {
        if (handedUpto < storedUpto) continue;
        flushAcks();
        deleteInBackground();
        for (const resolve of drainWaiters.splice(0)) resolve();
        options.onIdle?.();
        if (signal.aborted) break; // its poke came while the loop was busy
        const recheck = setTimeout(poke, options.recheckMs ?? 60_000);
        await new Promise<void>((resolve) => (wake = resolve));
        clearTimeout(recheck);
        await recheckForeign();
        continue;
      }
      if (head.settled === undefined) await head.outcome;
      // Everything that settled meanwhile is handled in one go, and the window refilled in one
      // synchronous burst: nats.js then writes the burst to the socket at once (one write per
      // publish would cost more than the publish itself).
      let failed = false;
      for (let f = inflight[0]; f?.settled !== undefined; f = inflight[0]) {
        if (!f.settled.ok) {
          failed = true;
          break;
        }
        inflight.shift();
        acknowledged(f.entry, f.settled.result);
      }
      if (failed) {
        await recover(++failures);
        continue;
      }
      failures = 0;
      failing = 0;
      if (ackedSinceFlush >= window) flushAcks();
      if (storedAckedUpto - deletedUpto >= options.readBatch * 4) deleteInBackground();
    }
    // Stopping: what is in flight settles, and what landed is counted as acknowledged. The rest
    // goes back in front of `ready`, in order: direct entries among it must still be stored.
    const outcomes = await Promise.all(inflight.map((f) => f.outcome));
    let settled = 0;
    for (const [i, f] of inflight.entries()) {
      const outcome = outcomes[i];
      if (!outcome?.ok) break;
      acknowledged(f.entry, outcome.result);
      settled++;
    }
    ready = [...inflight.slice(settled).map((f) => f.entry), ...ready.slice(readyHead)];
    readyHead = 0;
    inflight = [];
    flushAcks();
  }

  signal.addEventListener(
    'abort',
    () => {
      started?.(undefined);
      poke();
    },
    { once: true },
  );
  const loop = run().catch((err: unknown) => log.error({ err }, 'outbox relay failed'));

  return {
    start(from) {
      // State first, synchronously: the writer may report its first batch before the loop runs.
      storedUpto = from.lastSeq;
      handedUpto = from.backlog.size > 0 ? from.backlog.firstSeq - 1 : storedUpto;
      ackedUpto = deletedUpto = storedAckedUpto = handedUpto;
      if (from.backlog.size > 0) {
        waiting += from.backlog.size;
        pendingGauge.inc(from.backlog.size);
        batches.push({ lastSeq: from.backlog.lastSeq, at: from.backlog.oldestAt ?? Date.now() });
        log.info({ count: from.backlog.size }, 'relaying events left in the outbox');
      }
      started?.(from);
      started = undefined;
    },
    stored(entries, range) {
      if (range.first > storedUpto + 1) {
        // Another process stored these seqs in between (a spool replay): read them back.
        foreign.push({ first: storedUpto + 1, last: range.first - 1 });
        batches.push({ lastSeq: range.first - 1, at: Date.now() });
      }
      const handOver = handedUpto === storedUpto && range.first === storedUpto + 1 && readyCount() < options.memoryCap;
      storedUpto = range.last;
      if (handOver) {
        for (const entry of entries) ready.push(entry);
        handedUpto = range.last;
      }
      waiting += entries.length;
      batches.push({ lastSeq: range.last, at: Date.now() });
      poke();
    },
    canTakeDirect(count) {
      return (
        !signal.aborted &&
        failing === 0 &&
        handedUpto === storedUpto &&
        foreign.length === 0 &&
        readyCount() + inflight.length + count <= (options.directCap ?? window * 4)
      );
    },
    numbered(entries, range) {
      if (range.first !== storedUpto + 1 || handedUpto !== storedUpto) {
        // The writer checks canTakeDirect first; anything else would lose these entries.
        throw new Error(`direct entries ${range.first}–${range.last} do not follow ${storedUpto} (handed ${handedUpto})`);
      }
      for (const entry of entries) {
        entry.direct = true;
        ready.push(entry);
      }
      storedUpto = handedUpto = range.last;
      waiting += entries.length;
      batches.push({ lastSeq: range.last, at: Date.now() });
      poke();
    },
    unackedDirect() {
      const out: OutboxEntry[] = [];
      for (const f of inflight) if (f.entry.direct === true) out.push(f.entry);
      for (let i = readyHead; i < ready.length; i++) if (ready[i]!.direct === true) out.push(ready[i]!);
      return out;
    },
    directStored() {
      for (const f of inflight) f.entry.direct = false;
      for (let i = readyHead; i < ready.length; i++) ready[i]!.direct = false;
    },
    acked: () => ackedUpto,
    nextSeq: () => storedUpto + 1,
    storedUnseen(upto, count) {
      storedUpto = Math.max(storedUpto, upto);
      waiting += count;
      batches.push({ lastSeq: upto, at: Date.now() });
      poke();
    },
    deletable: () => (storedAckedUpto > deletedUpto ? storedAckedUpto : undefined),
    deleted(upto) {
      deletedUpto = Math.max(deletedUpto, upto);
    },
    waiting: () => waiting,
    oldestAt: () => batches[0]?.at,
    drained() {
      if (signal.aborted) return Promise.resolve();
      if (handedUpto === storedUpto && readyCount() === 0 && inflight.length === 0 && wake !== undefined)
        return Promise.resolve();
      return new Promise((resolve) => drainWaiters.push(resolve));
    },
    async stopped() {
      await loop;
      for (const resolve of drainWaiters.splice(0)) resolve();
    },
  };
}
