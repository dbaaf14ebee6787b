import { Worker } from 'node:worker_threads';
import type { JetStreamClient } from 'nats';
import { ingestSubject } from '@switchyard/schema';
import { messageReceivedEvent } from '@switchyard/testing';

const encoder = new TextEncoder();

export interface OutgoingEvent {
  id: string;
  tenant: string;
  instance: string;
  subject: string;
  bytes: Uint8Array;
}

/**
 * A tenant-published `message.received` envelope, as the README's walkthrough publishes one.
 * `captured_at` is the moment of publishing, so `stored_at - captured_at` in Postgres is the
 * publish→persisted latency on one clock.
 */
export function messageEvent(
  tenant: string,
  instance: string,
  id: string,
  seq: number,
  text = `bench ${seq}`,
  media?: Record<string, unknown>,
): OutgoingEvent {
  const base = messageReceivedEvent(tenant, instance, seq, { id });
  // A message id unique per event: persistence keys message state by (instance, message id).
  const messageId = id.replaceAll(/[^A-Za-z0-9]/g, '').slice(-32) || 'm';
  const data = media === undefined
    ? { ...base.data, message_id: messageId, text }
    : { ...base.data, message_id: messageId, message_type: 'imageMessage', text, media };
  const envelope = { ...base, data };
  return {
    id,
    tenant,
    instance,
    subject: ingestSubject(tenant, instance, 'message.received'),
    bytes: encoder.encode(JSON.stringify(envelope)),
  };
}

/**
 * Publishes like a well-behaved tenant: until JetStream acknowledges, retrying with the same
 * Nats-Msg-Id (so a retry of a publish that did land is dropped as a duplicate). Only an
 * acknowledged event counts as sent — that is the moment the zero-loss promise starts.
 */
export async function publishUntilAcked(
  js: JetStreamClient,
  event: Pick<OutgoingEvent, 'subject' | 'bytes' | 'id'>,
  stop?: AbortSignal,
): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    if (stop?.aborted) return false;
    try {
      await js.publish(event.subject, event.bytes, { msgID: event.id, timeout: 5_000 });
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 1_000)));
    }
  }
}

/** Publishes every event with up to `window` in flight — the same shape as the raw JetStream ceiling. */
export async function publishAll(
  js: JetStreamClient,
  events: readonly OutgoingEvent[],
  window = 256,
  onAcked?: (done: number) => void,
): Promise<void> {
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < events.length) {
      const event = events[next++]!;
      await publishUntilAcked(js, event);
      onAcked?.(++done);
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
}

/**
 * Offers `rate` events per second for `seconds`: every 10 ms the events due by then are
 * published without waiting for earlier acks (an open-loop load, so a slow pipeline shows as
 * latency rather than as a lower offered rate). Resolves when every one is acknowledged.
 */
export async function offerAtRate(
  js: JetStreamClient,
  options: {
    rate: number;
    seconds: number;
    make: (i: number) => OutgoingEvent;
    onSent?: (sent: number) => void;
    stop?: AbortSignal;
  },
): Promise<OutgoingEvent[]> {
  const total = Math.round(options.rate * options.seconds);
  const sent: OutgoingEvent[] = [];
  const inFlight: Promise<unknown>[] = [];
  const started = performance.now();
  while (sent.length < total && !options.stop?.aborted) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * options.rate));
    while (sent.length < due) {
      const event = options.make(sent.length);
      sent.push(event);
      inFlight.push(publishUntilAcked(js, event, options.stop));
    }
    options.onSent?.(sent.length);
    await new Promise((r) => setTimeout(r, 10));
  }
  await Promise.all(inFlight);
  return sent;
}

/** A publish worker started and connected, its events handed over, waiting for `go`. */
export interface ReadyPublisher {
  /** Starts publishing; resolves once every event was acknowledged. */
  go(): Promise<void>;
}

/**
 * Starts a worker thread with its own NATS connection (see publish-worker.ts) that will publish
 * `work.events`: at `work.rate` events/s open loop, or all at once with `work.window` in flight.
 * Resolves once the worker is connected and holds the events, so neither starting a thread nor
 * copying the events to it falls inside what a bench times; `go()` starts the publishing.
 */
export function preparePublishWorker(work: { url: string; events: OutgoingEvent[]; rate?: number; window?: number }): Promise<ReadyPublisher> {
  return new Promise((ready, fail) => {
    const worker = new Worker(new URL('./publish-worker.mjs', import.meta.url), { workerData: work });
    let published = false;
    let settle!: { resolve: () => void; reject: (err: Error) => void };
    const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    // Observed here so an early failure is not an unhandled rejection before go() is called.
    done.catch(() => undefined);
    worker.on('message', (message: { ready?: boolean; published?: number }) => {
      if (message.ready === true) ready({ go: () => (worker.postMessage('go'), done) });
      else published = true;
    });
    worker.once('error', (err) => {
      fail(err);
      settle.reject(err);
    });
    worker.once('exit', (code) => {
      if (published && code === 0) return settle.resolve();
      const err = new Error(`publish worker exited with code ${code} before publishing everything`);
      fail(err);
      settle.reject(err);
    });
  });
}
