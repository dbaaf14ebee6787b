import { millis, type ConsumerMessages, type JetStreamClient, type JetStreamManager } from 'nats';
import type { Logger } from 'pino';
import { ensureDurableConsumer, type DurableConsumerOptions } from './consumers.ts';
import { needsReattach } from './settle.ts';

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
}

export interface PullAttachment {
  attach(): Promise<ConsumerMessages>;
  /** The durable's ack_wait as last read on attach (30 s until then). */
  ackWaitMs(): number;
  /** Messages the durable had delivered and not yet acked when last attached (see redeliveriesInOrder). */
  pendingAtAttach(): number;
  /** Resolves after closing `iter` once its status says the consumer must be got again. */
  watchStatus(iter: ConsumerMessages): Promise<void>;
  pause(ms: number): Promise<void>;
}

export function pullAttachment(options: PullAttachmentOptions): PullAttachment {
  const { js, jsm, ensure, stream, durable, logger, signal } = options;
  let ackWaitMs = 30_000;
  let pendingAtAttach = 0;
  return {
    async attach() {
      if (jsm !== undefined && ensure !== undefined) await ensureDurableConsumer(jsm, { ...ensure, stream, durable });
      const consumer = await js.consumers.get(stream, durable);
      const info = await consumer.info(true);
      if (info.config.ack_wait !== undefined) ackWaitMs = millis(info.config.ack_wait);
      pendingAtAttach = info.num_ack_pending;
      return consumer.consume({ max_messages: options.maxMessages });
    },
    ackWaitMs: () => ackWaitMs,
    pendingAtAttach: () => pendingAtAttach,
    async watchStatus(iter) {
      for await (const status of await iter.status()) {
        if (!needsReattach(status)) continue;
        logger.warn({ status: status.type, data: status.data }, 'consumer trouble; getting the consumer again');
        await iter.close();
        return;
      }
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
