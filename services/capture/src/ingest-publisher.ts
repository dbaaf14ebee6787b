import type { JetStreamClient } from 'nats';
import type { TenantQueryable } from '@switchyard/db';
import { publishEvent } from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import { encodeEnvelope, ingestSubject, type EventEnvelope } from '@switchyard/schema';
import { backoffDelay, DEFAULT_BACKOFF, sleep, type BackoffOptions } from './backoff.ts';
import { withSeq, type UnsequencedEvent } from './captured-event.ts';
import type { CaptureMetrics } from './metrics.ts';
import { allocateSeq } from './sequence.ts';

export interface IngestPublisherOptions {
  js: JetStreamClient;
  /** The tenant's scoped handle (forTenant): `instance_sequences` lives in the tenant schema. */
  db: TenantQueryable;
  tenant: string;
  instance: string;
  logger: Logger;
  metrics: CaptureMetrics;
  /** PubAck wait per attempt. Default 5s. */
  publishTimeoutMs?: number;
  /** Delay between failed attempts (seq allocation and publish alike). */
  backoff?: BackoffOptions;
  /** Most events numbered by one seq allocation. Default 500. */
  maxBatch?: number;
  /** Largest encoded event NATS accepts (the server's max_payload). Default 1 MiB. */
  maxPayloadBytes?: number;
}

export interface IngestPublisher {
  /** Queues events in order and returns at once; never throws, never waits on NATS or Postgres. */
  enqueue(events: readonly UnsequencedEvent[]): void;
  /** Resolves when every event enqueued so far is acknowledged by INGEST (or the publisher closed). */
  idle(): Promise<void>;
  /** Events enqueued and not yet acknowledged. */
  pending(): number;
  /**
   * Stops retrying and resolves with the number of events left unpublished (logged as an error).
   * An in-flight publish is allowed to finish first.
   */
  close(): Promise<number>;
}

/**
 * One instance's ordered path onto INGEST: events wait in an in-memory FIFO; a single worker
 * numbers each batch with one seq allocation, then publishes event by event, waiting for every
 * PubAck before the next, so INGEST holds them in capture order. A failure (NATS down, no
 * PubAck, Postgres down) is retried with backoff forever with the same id and seq — `Nats-Msg-Id`
 * = event id makes the retry of a publish that did land a no-op — so nothing is dropped and the
 * queue never reorders. Baileys' emitter only ever calls `enqueue`, so it is never blocked.
 *
 * DURABLE OUTBOX (later issue): the FIFO is memory, so a crash or a shutdown while NATS is down
 * loses what it holds. The outbox plugs in at `enqueue`: write the events (with their seq, in
 * one transaction with `allocateSeq`) to a Postgres outbox table before returning, and let this
 * worker relay from that table, deleting rows on PubAck. The ordering and retry logic here stay.
 */
export function createIngestPublisher(options: IngestPublisherOptions): IngestPublisher {
  const { js, db, tenant, instance, logger, metrics } = options;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const maxBatch = options.maxBatch ?? 500;
  const maxPayloadBytes = options.maxPayloadBytes ?? 1024 * 1024;
  const publishTimeoutMs = options.publishTimeoutMs ?? 5_000;
  const labels = { tenant, instance };
  const log = logger.child({ tenant, instance });

  const queue: UnsequencedEvent[] = [];
  const idleWaiters: Array<() => void> = [];
  const stopping = new AbortController();
  let worker: Promise<void> | undefined;

  /** Retries `work` until it succeeds; undefined once the publisher is closing. */
  async function untilDone<T>(
    what: string,
    work: () => Promise<T>,
    onFailure: () => void,
  ): Promise<T | undefined> {
    for (let attempt = 1; !stopping.signal.aborted; attempt++) {
      try {
        return await work();
      } catch (err) {
        onFailure();
        const delayMs = backoffDelay(attempt, backoff);
        log.warn({ err, attempt, delayMs }, `${what} failed; retrying`);
        await sleep(delayMs, stopping.signal);
      }
    }
    return undefined;
  }

  async function publishOne(event: EventEnvelope): Promise<void> {
    const subject = ingestSubject(tenant, instance, event.type);
    const bytes = fitPayload(event);
    const result = await publishEvent(js, subject, bytes, {
      msgId: event.id,
      timeoutMs: publishTimeoutMs,
    });
    metrics.captured.inc({ ...labels, type: event.type });
    log.debug(
      { event_id: event.id, subject, seq: event.seq, duplicate: result.duplicate },
      'event on INGEST',
    );
  }

  /**
   * A message with a big inline thumbnail can exceed NATS' max_payload, and retrying it forever
   * would wedge the instance. Its readable fields (media descriptor included) are what the
   * pipeline needs, so it goes out without `raw` rather than not at all.
   */
  function fitPayload(event: EventEnvelope): Uint8Array {
    const bytes = encodeEnvelope(event);
    if (bytes.byteLength <= maxPayloadBytes || !('raw' in event.data)) return bytes;
    const { raw: _raw, ...data } = event.data;
    metrics.rawDropped.inc(labels);
    log.error(
      { event_id: event.id, bytes: bytes.byteLength, maxPayloadBytes },
      'event too large for NATS; publishing without data.raw',
    );
    return encodeEnvelope({ ...event, data } as EventEnvelope);
  }

  async function drain(): Promise<void> {
    while (queue.length > 0 && !stopping.signal.aborted) {
      const batchSize = Math.min(queue.length, maxBatch);
      const range = await untilDone(
        'seq allocation',
        () => allocateSeq(db, instance, batchSize),
        () => metrics.seqFailures.inc(labels),
      );
      if (range === undefined) return;
      for (let i = 0; i < batchSize; i++) {
        const next = queue[0];
        if (next === undefined) return;
        const event = withSeq(next, range.first + i);
        const published = await untilDone(
          'INGEST publish',
          async () => publishOne(event).then(() => true),
          () => metrics.publishFailures.inc(labels),
        );
        if (published === undefined) return;
        queue.shift();
        metrics.pending.dec(labels);
      }
    }
  }

  function kick(): void {
    if (worker !== undefined || stopping.signal.aborted) return;
    worker = drain()
      .catch((err: unknown) => log.error({ err }, 'ingest publisher worker failed'))
      .finally(() => {
        worker = undefined;
        if (queue.length > 0 && !stopping.signal.aborted) kick();
        else if (queue.length === 0) for (const wake of idleWaiters.splice(0)) wake();
      });
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
      queue.push(...events);
      metrics.pending.inc(labels, events.length);
      kick();
    },
    idle() {
      if (queue.length === 0 && worker === undefined) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    pending: () => queue.length,
    async close() {
      stopping.abort();
      await worker;
      const left = queue.length;
      if (left > 0) {
        log.error(
          { count: left },
          'ingest publisher closed with unpublished events (no durable outbox yet)',
        );
        metrics.pending.dec(labels, left);
      }
      for (const wake of idleWaiters.splice(0)) wake();
      return left;
    },
  };
}
