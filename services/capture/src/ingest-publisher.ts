import type { JetStreamClient } from 'nats';
import type { TenantQueryable } from '@switchyard/db';
import { publishEvent } from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import { encodeEnvelope, ingestSubject, type EventEnvelope } from '@switchyard/schema';
import { backoffDelay, DEFAULT_BACKOFF, sleep, type BackoffOptions } from './backoff.ts';
import type { UnsequencedEvent } from './captured-event.ts';
import type { CaptureMetrics } from './metrics.ts';
import {
  deleteFromOutbox,
  outboxBacklog,
  readOutbox,
  sequencedBytes,
  storeInOutbox,
  type UnstoredEntry,
} from './outbox.ts';

export interface IngestPublisherOptions {
  js: JetStreamClient;
  /** The tenant's scoped handle (forTenant): the seq counter and the outbox live in the tenant schema. */
  db: TenantQueryable;
  tenant: string;
  instance: string;
  logger: Logger;
  metrics: CaptureMetrics;
  /** PubAck wait per attempt. Default 5s. */
  publishTimeoutMs?: number;
  /** Delay between failed attempts (outbox writes and publishes alike). */
  backoff?: BackoffOptions;
  /** Most events stored by one outbox statement, and read per relay round. Default 500. */
  maxBatch?: number;
  /** Largest encoded event NATS accepts (the server's max_payload). Default 1 MiB. */
  maxPayloadBytes?: number;
  /** How long `close` keeps trying to store staged events in the outbox. Default 5s. */
  closeGraceMs?: number;
}

export interface IngestPublisher {
  /** Stages events in order and returns at once; never throws, never waits on NATS or Postgres. */
  enqueue(events: readonly UnsequencedEvent[]): void;
  /** Resolves when every event enqueued so far is in the durable outbox (numbered, crash-safe). */
  stored(): Promise<void>;
  /** Resolves when every event enqueued so far is acknowledged by INGEST (or the publisher closed). */
  idle(): Promise<void>;
  /** Events enqueued and not yet acknowledged (staged in memory plus waiting in the outbox). */
  pending(): number;
  /**
   * Stops the write and relay loops (an in-flight step finishes first) and resolves with the
   * number of events that never reached the outbox — the only ones a stop can lose. What waits
   * in the outbox stays there for whoever runs this instance next.
   */
  close(): Promise<number>;
}

/** Room for the `"seq":N,` the relay adds to the stored bytes. */
const SEQ_ROOM = 32;

/**
 * One instance's durable, ordered path onto INGEST, in two loops:
 *
 * - the writer takes what Baileys' handler staged (memory, in emit order) and stores it in the
 *   Postgres outbox with its seq — one statement per batch that also allocates the seq, so what
 *   is stored is numbered and what is numbered is stored;
 * - the relay reads the outbox in seq order and publishes event by event, waiting for every
 *   PubAck before the next (so INGEST holds them in capture order), deleting entries once
 *   acknowledged.
 *
 * Failures (NATS down or slow, Postgres down) are retried with backoff forever; a retried publish
 * reuses the event id as `Nats-Msg-Id`, so one that did land is a no-op. While NATS is away the
 * outbox grows durably; when it returns the relay catches up in order. Baileys only ever calls
 * `enqueue`, so it is never blocked. The one window memory covers is a staged batch before its
 * outbox write commits (one round trip; longer only while Postgres is down).
 *
 * Only the replica holding the instance's lease runs this, so the outbox has one writer; a relay
 * that starts (after a restart or failover) first sends what a previous owner left behind.
 */
export function createIngestPublisher(options: IngestPublisherOptions): IngestPublisher {
  const { js, db, tenant, instance, logger, metrics } = options;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const maxBatch = options.maxBatch ?? 500;
  const maxPayloadBytes = (options.maxPayloadBytes ?? 1024 * 1024) - SEQ_ROOM;
  const publishTimeoutMs = options.publishTimeoutMs ?? 5_000;
  const labels = { tenant, instance };
  const log = logger.child({ tenant, instance });

  const staged: UnstoredEntry[] = [];
  // Closing stops the relay at once but gives the writer a grace period: what Baileys handed
  // over should reach the outbox even when the session stops right after.
  const stopping = new AbortController();
  const writerStopping = new AbortController();
  const closeGraceMs = options.closeGraceMs ?? 5_000;
  const storedWaiters: Array<() => void> = [];
  const idleWaiters: Array<() => void> = [];
  let writer: Promise<void> | undefined;
  let relay: Promise<void> | undefined;
  // The outbox as this publisher knows it: entries stored and not yet deleted, with when each
  // batch was stored, for the size and oldest-age metrics.
  let outboxSize = 0;
  const batches: Array<{ lastSeq: number; count: number; at: number }> = [];
  let relayWanted = true;
  let backlogReady: () => void = () => undefined;
  const backlogCounted = new Promise<void>((resolve) => (backlogReady = resolve));
  let wakeRelay: (() => void) | undefined;

  const untrack = metrics.trackOutbox({
    tenant,
    instance,
    size: () => outboxSize,
    oldestAt: () => batches[0]?.at,
  });

  /** Retries `work` until it succeeds; undefined once `signal` aborts. */
  async function untilDone<T>(
    signal: AbortSignal,
    what: string,
    work: () => Promise<T>,
    onFailure: () => void,
  ): Promise<T | undefined> {
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        return await work();
      } catch (err) {
        onFailure();
        const delayMs = backoffDelay(attempt, backoff);
        log.warn({ err, attempt, delayMs }, `${what} failed; retrying`);
        await sleep(delayMs, signal);
      }
    }
    return undefined;
  }

  /**
   * A message with a big inline thumbnail can exceed NATS' max_payload, and retrying it forever
   * would wedge the instance. Its readable fields (media descriptor included) are what the
   * pipeline needs, so it goes out without `raw` rather than not at all.
   */
  function toEntry(event: UnsequencedEvent): UnstoredEntry {
    let payload = encodeEnvelope(event);
    if (payload.byteLength > maxPayloadBytes && 'raw' in event.data) {
      const { raw: _raw, ...data } = event.data;
      metrics.rawDropped.inc(labels);
      log.error(
        { event_id: event.id, bytes: payload.byteLength, maxPayloadBytes },
        'event too large for NATS; publishing without data.raw',
      );
      payload = encodeEnvelope({ ...event, data } as EventEnvelope);
    }
    return { eventId: event.id, type: event.type, payload };
  }

  async function writeStaged(): Promise<void> {
    // The relay counts what the outbox already holds first; a batch stored before that count
    // would be counted twice.
    await backlogCounted;
    while (staged.length > 0 && !writerStopping.signal.aborted) {
      const batch = staged.slice(0, maxBatch);
      const range = await untilDone(
        writerStopping.signal,
        'outbox write',
        () => storeInOutbox(db, instance, batch),
        () => metrics.seqFailures.inc(labels),
      );
      if (range === undefined) return;
      staged.splice(0, batch.length);
      outboxSize += batch.length;
      batches.push({ lastSeq: range.last, count: batch.length, at: Date.now() });
      poke();
    }
  }

  function startWriter(): void {
    if (writer !== undefined || writerStopping.signal.aborted) return;
    writer = writeStaged()
      .catch((err: unknown) => log.error({ err }, 'outbox writer failed'))
      .finally(() => {
        writer = undefined;
        if (staged.length > 0 && !writerStopping.signal.aborted) startWriter();
        else if (staged.length === 0) wake('stored');
      });
  }

  function poke(): void {
    relayWanted = true;
    wakeRelay?.();
  }

  async function publishOne(entry: Parameters<typeof sequencedBytes>[0]): Promise<void> {
    const subject = ingestSubject(tenant, instance, entry.type);
    const result = await publishEvent(js, subject, sequencedBytes(entry), {
      msgId: entry.eventId,
      timeoutMs: publishTimeoutMs,
    });
    metrics.captured.inc({ ...labels, type: entry.type });
    log.debug(
      { event_id: entry.eventId, subject, seq: entry.seq, duplicate: result.duplicate },
      'event on INGEST',
    );
  }

  function acknowledged(uptoSeq: number, count: number): void {
    outboxSize = Math.max(0, outboxSize - count);
    metrics.pending.dec(labels, count);
    while (batches[0] !== undefined && batches[0].lastSeq <= uptoSeq) batches.shift();
  }

  /** Sends the outbox in seq order; deletes what INGEST acknowledged, once per read round. */
  async function relayOutbox(): Promise<void> {
    // A previous owner (or a crash) may have left entries: count them so metrics and idle() see them.
    const backlog = await untilDone(
      stopping.signal,
      'outbox backlog read',
      () => outboxBacklog(db, instance),
      () => metrics.seqFailures.inc(labels),
    );
    backlogReady();
    if (backlog === undefined) return;
    if (backlog.size > 0) {
      log.info({ count: backlog.size }, 'relaying events left in the outbox');
      outboxSize += backlog.size;
      metrics.pending.inc(labels, backlog.size);
      batches.unshift({
        lastSeq: backlog.lastSeq,
        count: backlog.size,
        at: backlog.oldestAt?.getTime() ?? Date.now(),
      });
    }
    let cursor = 0;
    while (!stopping.signal.aborted) {
      relayWanted = false;
      const entries = await untilDone(
        stopping.signal,
        'outbox read',
        () => readOutbox(db, instance, cursor, maxBatch),
        () => metrics.seqFailures.inc(labels),
      );
      if (entries === undefined) return;
      if (entries.length === 0) {
        if (outboxSize === 0 && staged.length === 0) wake('idle');
        if (!relayWanted) await new Promise<void>((resolve) => (wakeRelay = resolve));
        wakeRelay = undefined;
        continue;
      }
      let sent = 0;
      for (const entry of entries) {
        const ok = await untilDone(
          stopping.signal,
          'INGEST publish',
          () => publishOne(entry).then(() => true),
          () => metrics.publishFailures.inc(labels),
        );
        if (ok === undefined) break;
        cursor = entry.seq;
        sent++;
      }
      if (sent === 0) return;
      // Deleting late is harmless: a re-sent entry is a Nats-Msg-Id duplicate.
      const upto = cursor;
      const deleted = await untilDone(
        stopping.signal,
        'outbox delete',
        () => deleteFromOutbox(db, instance, upto).then(() => true),
        () => metrics.seqFailures.inc(labels),
      );
      acknowledged(upto, sent);
      if (deleted === undefined) return;
    }
  }

  function wake(what: 'stored' | 'idle'): void {
    if (what === 'stored') {
      for (const resolve of storedWaiters.splice(0)) resolve();
    } else {
      for (const resolve of idleWaiters.splice(0)) resolve();
    }
  }

  relay = relayOutbox()
    .catch((err: unknown) => log.error({ err }, 'outbox relay failed'))
    .finally(() => {
      relay = undefined;
    });

  function stored(): Promise<void> {
    if (staged.length === 0 && writer === undefined) return Promise.resolve();
    return new Promise((resolve) => storedWaiters.push(resolve));
  }

  function isIdle(): boolean {
    return staged.length === 0 && writer === undefined && outboxSize === 0 && relayWanted === false;
  }

  return {
    enqueue(events) {
      if (events.length === 0) return;
      if (stopping.signal.aborted) {
        log.error(
          { count: events.length },
          'events captured after the ingest publisher closed; not published',
        );
        return;
      }
      for (const event of events) staged.push(toEntry(event));
      metrics.pending.inc(labels, events.length);
      startWriter();
    },
    stored,
    idle() {
      if (stopping.signal.aborted || (isIdle() && wakeRelay !== undefined))
        return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    pending: () => staged.length + outboxSize,
    async close() {
      stopping.abort();
      wakeRelay?.();
      await relay;
      if (writer !== undefined) {
        const grace = setTimeout(() => writerStopping.abort(), closeGraceMs);
        await stored();
        clearTimeout(grace);
      }
      writerStopping.abort();
      await writer;
      const lost = staged.length;
      if (lost > 0) {
        log.error({ count: lost }, 'ingest publisher closed before these events reached the outbox');
      }
      if (outboxSize > 0) {
        log.info({ count: outboxSize }, 'events left in the outbox for the next owner to relay');
      }
      metrics.pending.dec(labels, lost + outboxSize);
      untrack();
      wake('stored');
      wake('idle');
      return lost;
    },
  };
}
