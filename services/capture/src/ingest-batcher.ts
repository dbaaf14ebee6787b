import type { JetStreamClient, NatsConnection } from 'nats';
import type { Counter } from 'prom-client';
import {
  ATOMIC_BATCH_MAX_MESSAGES,
  ATOMIC_BATCH_MIN_MESSAGES,
  atomicBatchesSupported,
  publishAtomicBatch,
  publishEvent,
  type AtomicBatchResult,
  type PublishResult,
} from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import { STREAMS } from '@switchyard/schema';

/** How the relays of one capture process put their events on INGEST. */
export interface IngestBatcher {
  /**
   * Publishes one event (its id as `Nats-Msg-Id`) and resolves with its PubAck, or rejects as
   * `publishEvent` would. What is published in one turn of the event loop, by any instance, is
   * stored in the order of these calls.
   */
  publish(subject: string, data: Uint8Array, msgId: string, timeoutMs: number): Promise<PublishResult>;
}

export interface IngestBatcherOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  logger: Logger;
  /** Batches by outcome: `stored`, `refused` (then published one by one), `unsure` (same). */
  batches?: Counter<'outcome'>;
  /** The stream the commits must come from. Default INGEST. */
  stream?: string;
  /** Fewer messages than this in a turn go one by one. Default ATOMIC_BATCH_MIN_MESSAGES. */
  minBatch?: number;
}

interface Queued {
  subject: string;
  data: Uint8Array;
  msgId: string;
  timeoutMs: number;
  resolve: (result: PublishResult) => void;
  reject: (err: unknown) => void;
}

/**
 * One capture process's way onto INGEST, shared by every instance's relay. Each relay publishes
 * its own window of events in seq order; what all of them publish in one turn of the event loop
 * goes out together, as atomic batches of up to 1,000 when there are at least `minBatch`, else
 * as one acknowledged publish each (what a relay did alone before).
 *
 * A batch costs the client one PubAck instead of one per event (~5 instead of ~15–35 µs of CPU
 * per event), which is most of what a capture with a hundred busy instances spends per event
 * beyond mapping it.
 *
 * Order: a batch is sent only once the one before it is committed, so a refused batch can never
 * have a later one stored ahead of it. A refused batch (a duplicate `Nats-Msg-Id` after a retry,
 * an oversized message) or one whose commit never answered is published again one event at a
 * time, before anything after it, with the same ids: each event then settles on its own, and
 * what the batch did store comes back as a duplicate.
 */
export function createIngestBatcher(options: IngestBatcherOptions): IngestBatcher {
  const { nc, js, logger } = options;
  const stream = options.stream ?? STREAMS.ingest;
  const minBatch = Math.max(2, options.minBatch ?? ATOMIC_BATCH_MIN_MESSAGES);
  let queue: Queued[] = [];
  let draining = false;

  function one(q: Queued): void {
    publishEvent(js, q.subject, q.data, { msgId: q.msgId, timeoutMs: q.timeoutMs }).then(q.resolve, q.reject);
  }

  async function commit(chunk: Queued[]): Promise<void> {
    let result: AtomicBatchResult;
    try {
      result = await publishAtomicBatch(
        nc,
        chunk.map((q) => ({ subject: q.subject, data: q.data, msgId: q.msgId })),
        { stream, timeoutMs: chunk.reduce((most, q) => Math.max(most, q.timeoutMs), 0) },
      );
    } catch (err) {
      // It answers refusals rather than throwing; whatever this was, the events go one by one.
      result = { stored: false, unsure: true, reason: err instanceof Error ? err.message : String(err) };
    }
    if (result.stored) {
      options.batches?.inc({ outcome: 'stored' });
      for (const [i, q] of chunk.entries()) q.resolve(result.results[i]!);
      return;
    }
    options.batches?.inc({ outcome: result.unsure ? 'unsure' : 'refused' });
    logger.warn({ count: chunk.length, reason: result.reason }, 'INGEST batch not stored; publishing its events one by one');
    for (const q of chunk) one(q);
  }

  async function drain(): Promise<void> {
    try {
      while (queue.length > 0) {
        const turn = queue;
        queue = [];
        if (turn.length < minBatch || !atomicBatchesSupported(nc)) {
          for (const q of turn) one(q);
          continue;
        }
        for (let from = 0; from < turn.length; from += ATOMIC_BATCH_MAX_MESSAGES) {
          const chunk = turn.slice(from, from + ATOMIC_BATCH_MAX_MESSAGES);
          // A tail too short for a batch of its own still goes in order, after the batch before it.
          if (chunk.length < minBatch) for (const q of chunk) one(q);
          else await commit(chunk);
        }
      }
    } finally {
      draining = false;
      if (queue.length > 0) schedule();
    }
  }

  function schedule(): void {
    if (draining) return;
    draining = true;
    setImmediate(() => void drain());
  }

  return {
    publish(subject, data, msgId, timeoutMs) {
      return new Promise<PublishResult>((resolve, reject) => {
        queue.push({ subject, data, msgId, timeoutMs, resolve, reject });
        schedule();
      });
    },
  };
}
