import type { JetStreamClient, NatsConnection } from 'nats';
import type { Counter } from 'prom-client';
import {
  ATOMIC_BATCH_MAX_MESSAGES,
  ATOMIC_BATCH_MIN_MESSAGES,
  atomicBatchesSupported,
  publishAtomicRun,
  publishEvent,
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
  /** Atomic batches by outcome: `stored`, or `refused` (or unanswered; the rest then goes one by one). */
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
 * per event); in `pnpm bench capture` that was a sixth of capture's CPU per event.
 *
 * Order: a turn goes as publishAtomicRun does it, each batch sent only once the one before it
 * committed, so a refused batch can never have a later one stored ahead of it. From a refused
 * batch (a duplicate `Nats-Msg-Id` after a retry, an oversized message) or one whose commit
 * never answered, the rest of the turn is published one event at a time, in order, before
 * anything after it, with the same ids: each event then settles on its own, and what the batch
 * did store comes back as a duplicate.
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

  /**
   * One turn as consecutive atomic batches (publishAtomicRun: each sent once the one before it
   * committed, stopping at the first refusal); what it did not store goes one by one, after it.
   */
  async function publishTurn(turn: Queued[]): Promise<void> {
    const run = await publishAtomicRun(
      nc,
      turn.map((q) => ({ subject: q.subject, data: q.data, msgId: q.msgId })),
      { stream, timeoutMs: turn.reduce((most, q) => Math.max(most, q.timeoutMs), 0) },
    ).catch((err: unknown) => ({ results: [], refused: err instanceof Error ? err.message : String(err) }));
    for (const [i, result] of run.results.entries()) turn[i]!.resolve(result);
    if (run.results.length > 0) options.batches?.inc({ outcome: 'stored' }, Math.ceil(run.results.length / ATOMIC_BATCH_MAX_MESSAGES));
    if (run.refused === undefined) return;
    options.batches?.inc({ outcome: 'refused' });
    const rest = turn.slice(run.results.length);
    logger.warn({ count: rest.length, reason: run.refused }, 'INGEST batch not stored; publishing its events one by one');
    for (const q of rest) one(q);
  }

  async function drain(): Promise<void> {
    try {
      while (queue.length > 0) {
        const turn = queue;
        queue = [];
        if (turn.length >= minBatch && atomicBatchesSupported(nc)) await publishTurn(turn);
        else for (const q of turn) one(q);
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
