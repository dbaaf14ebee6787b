import { millis, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from 'nats';
import type { Logger } from 'pino';
import { ensureDurableConsumer, type DurableConsumerOptions } from './consumers.ts';
import { redeliveriesInOrder } from './redelivery-order.ts';
import { needsReattach } from './settle.ts';

/** How much longer than ack_wait a first attach waits for the messages pending then. */
const REDELIVERY_GRACE_MS = 1_000;

/**
 * What both consume loops (one-at-a-time and batch) do around their own consumption: get the
 * durable (declaring it first when asked), open a pull iterator, notice when it must be got
 * again, and sleep between attempts in a way `stop()` can cut short.
 */
export interface PullAttachmentOptions {
  js: JetStreamClient;
  jsm?: JetStreamManager | undefined;
  /** Declared (idempotently) before every attach, so a tenant announced during an outage still gets its durable. */
  ensure?: Omit<DurableConsumerOptions, 'stream' | 'durable'> | undefined;
  stream: string;
  durable: string;
  /** How many messages the iterator may hold at once. */
  maxMessages: number;
  logger: Logger;
  /** Aborted by `stop()`: ends any pause at once. */
  signal: AbortSignal;
  /**
   * Only for a durable this replica alone reads (partition ownership): on the first attach, the
   * messages the durable had pending are handed on in stream order (see `arriving`). A shared
   * durable must not: the other readers' messages in flight count as pending and would be waited
   * for in vain.
   */
  soleReader?: boolean | undefined;
  /**
   * The longest delay this durable's messages are nak'd with (the consume loop's retry backoff).
   * A sole reader's first attach waits up to this (or ack_wait, if longer) for the pending
   * messages to come back, so one nak'd before a hand-over is not overtaken by later messages.
   */
  longestRedeliveryDelayMs?: number | undefined;
  /**
   * How long each pull request lives (nats.js `expires`; its idle heartbeat is half of it, and two
   * missed heartbeats are consumer trouble). Unset: nats.js's 30 s. Tests shorten it to provoke
   * a re-attach quickly.
   */
  pullExpiresMs?: number | undefined;
}

export interface PullAttachment {
  attach(): Promise<ConsumerMessages>;
  /** The durable's ack_wait as last read on attach (30 s until then). */
  ackWaitMs(): number;
  /**
   * What the consume loop reads from `iter`. For a sole reader with messages pending at attach,
   * those come first, in stream order (redeliveriesInOrder): on its first attach (a takeover) and
   * on a re-attach after consumer trouble alike (a message it retried with a delay, or handed
   * back, must not be overtaken by the ones after it). Acks the loop sent just before a re-attach
   * count as pending until the server has them; the `num_ack_pending` poll ends the wait for those.
   * `heldHere` counts the messages the loop itself still has in its handlers (the one-at-a-time
   * loop re-attaches with handlers running): pending on the server but never coming back, so they
   * are not waited for. Otherwise `iter` itself.
   */
  arriving(iter: ConsumerMessages, heldHere?: () => number): AsyncIterable<JsMsg>;
  /** Resolves after closing `iter` once its status says the consumer must be got again. */
  watchStatus(iter: ConsumerMessages): Promise<void>;
  /**
   * Closes an iterator the loop got but will not read (it was stopped while attaching), handing
   * back whatever arrived meanwhile. nats.js resolves close() only once the iterator has been
   * read to its end, so awaiting close() alone would wait forever.
   */
  discard(iter: ConsumerMessages): Promise<void>;
  pause(ms: number): Promise<void>;
}

export function pullAttachment(options: PullAttachmentOptions): PullAttachment {
  const { js, jsm, ensure, stream, durable, logger, signal } = options;
  let ackWaitMs = 30_000;
  let pendingAtAttach = 0;
  let attaches = 0;
  let attached: { info(cached?: boolean): Promise<{ num_ack_pending: number }> } | undefined;
  return {
    async attach() {
      if (jsm !== undefined && ensure !== undefined) await ensureDurableConsumer(jsm, { ...ensure, stream, durable });
      const consumer = await js.consumers.get(stream, durable);
      attached = consumer;
      const info = await consumer.info(true);
      if (info.config.ack_wait !== undefined) ackWaitMs = millis(info.config.ack_wait);
      pendingAtAttach = info.num_ack_pending;
      attaches++;
      return consumer.consume({ max_messages: options.maxMessages, ...(options.pullExpiresMs !== undefined ? { expires: options.pullExpiresMs } : {}) });
    },
    ackWaitMs: () => ackWaitMs,
    arriving(iter, heldHere = () => 0) {
      const pending = Math.max(0, pendingAtAttach - heldHere());
      if (options.soleReader !== true || pending === 0) return iter;
      const consumer = attached;
      const attachNumber = attaches;
      return redeliveriesInOrder(iter, {
        pending,
        // A message the previous holder nak'd with a delay is pending until that delay is over.
        withinMs: Math.max(ackWaitMs, options.longestRedeliveryDelayMs ?? 0) + REDELIVERY_GRACE_MS,
        ...(consumer !== undefined ? { outstanding: async () => (await consumer.info(false)).num_ack_pending - heldHere() } : {}),
        pollMs: Math.min(1_000, Math.max(100, ackWaitMs / 4)),
        keepAliveMs: Math.max(ackWaitMs / 2, 100),
        onShort: (redelivered, pending) => logger.warn({ redelivered, pending, attach: attachNumber }, 'not every message pending at attach came back in time; going on without the rest'),
      });
    },
    async watchStatus(iter) {
      for await (const status of await iter.status()) {
        if (!needsReattach(status)) continue;
        logger.warn({ status: status.type, data: status.data }, 'consumer trouble; getting the consumer again');
        await iter.close();
        return;
      }
    },
    async discard(iter) {
      const closed = iter.close();
      for await (const msg of iter) msg.nak();
      await closed;
    },
    pause: (ms) =>
      new Promise((resolve) => {
        const timer = setTimeout(resolve, ms);
        signal.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            resolve();
          },
          { once: true },
        );
      }),
  };
}
