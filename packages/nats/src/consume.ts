import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { isNonRetryable } from '@switchyard/runtime';
import {
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from 'nats';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DurableConsumerOptions } from './consumers.ts';
import { consumerMetrics, type ConsumerMetrics } from './metrics.ts';
import { deadLetter, retry, type Handler, type InboundMessage, type Outcome } from './outcome.ts';
import { extractTraceContext, headersToRecord } from './publish.ts';
import { pullAttachment } from './pull-attachment.ts';
import { createSettler, errorText } from './settle.ts';

export interface StartConsumerOptions {
  js: JetStreamClient;
  /** With `ensure`, lets the loop recreate a durable that was deleted under it. */
  jsm?: JetStreamManager;
  /** The durable's config; re-applied (idempotently) before every attach when `jsm` is given. */
  ensure?: Omit<DurableConsumerOptions, 'stream' | 'durable'>;
  stream: string;
  durable: string;
  tenant: string;
  service: string;
  handler: Handler;
  logger: Logger;
  registry: Registry;
  /** Deliveries before a retry becomes a MAX_DELIVERIES dead-letter; -1 never dead-letters. */
  maxDeliver?: number;
  /** Handlers in flight. Keep 1 where per-tenant order matters. */
  concurrency?: number;
  /** nak delay by delivery: the n-th delivery waits the n-th entry, the last entry repeats. */
  retryBackoffMs?: number[];
  /** Tests only: where dead-letters go instead of `v1.dlq.<tenant>`. */
  dlqSubject?: string;
  /** Only for a durable this replica alone reads: see PullAttachmentOptions.soleReader. */
  soleReader?: boolean;
  /** Tests: see PullAttachmentOptions.pullExpiresMs. */
  pullExpiresMs?: number;
}

export type ConsumerState = 'running' | 'draining' | 'stopped';

export interface RunningConsumer {
  readonly stream: string;
  readonly durable: string;
  state(): ConsumerState;
  /** Stops pulling, waits for in-flight handlers to settle their messages, then resolves. */
  stop(): Promise<void>;
}

const REATTACH_MIN_MS = 250;
const REATTACH_MAX_MS = 10_000;
const tracer = trace.getTracer('@switchyard/nats');

class Slots {
  #free: number;
  #waiters: (() => void)[] = [];
  constructor(size: number) {
    this.#free = size;
  }
  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
  release(): void {
    const next = this.#waiters.shift();
    if (next !== undefined) next();
    else this.#free++;
  }
}

/**
 * Runs a handler over one durable pull consumer: the only code that touches raw JetStream
 * messages. Settlement rules:
 * - `ack`: `msg.ack()`, fire-and-forget. A lost ack only means a redelivery, and every effect is
 *   idempotent by event id, so waiting for an ack-ack on each message would buy nothing but a
 *   round trip. Close the connection with `nc.drain()` after `stop()` so queued acks are flushed.
 * - `retry` / a retryable throw: `nak(delay)` with the backoff schedule, until the delivery count
 *   reaches `maxDeliver`; then the message is dead-lettered with MAX_DELIVERIES.
 * - `dead-letter` / a non-retryable throw: a validated DlqRecord is published and its PubAck
 *   awaited; only then is the original acked. If the DLQ publish fails, the original is nak'd
 *   with a delay, so the message is never lost between the two streams.
 * The server-side max_deliver must stay unlimited (ensureDurableConsumer's default) so the
 * server never gives up on a message this loop still means to dead-letter.
 */
export function startConsumer(options: StartConsumerOptions): RunningConsumer {
  const { js, jsm, ensure, stream, durable, tenant, service, handler, registry } = options;
  const maxDeliver = options.maxDeliver ?? 5;
  const concurrency = Math.max(1, options.concurrency ?? 1);
  const logger = options.logger.child({ stream, durable, tenant });
  const metrics: ConsumerMetrics = consumerMetrics(registry);
  const slots = new Slots(concurrency);
  const inflight = new Set<Promise<void>>();
  const stopping = new AbortController();
  let state: ConsumerState = 'running';
  let messages: ConsumerMessages | undefined;

  const settler = createSettler({
    js,
    stream,
    durable,
    tenant,
    service,
    maxDeliver,
    retryBackoffMs: options.retryBackoffMs,
    ...(options.dlqSubject !== undefined ? { dlqSubject: options.dlqSubject } : {}),
    logger,
    metrics,
  });
  const attachment = pullAttachment({ js, jsm, ensure, stream, durable, maxMessages: concurrency, logger, signal: stopping.signal, soleReader: options.soleReader, longestRedeliveryDelayMs: settler.longestBackoffMs, pullExpiresMs: options.pullExpiresMs });

  async function run(): Promise<void> {
    let retryInMs = REATTACH_MIN_MS;
    let attachedBefore = false;
    while (state === 'running') {
      try {
        const iter = await attachment.attach();
        messages = iter;
        if (state !== 'running') {
          await attachment.discard(iter);
          break;
        }
        logger[attachedBefore ? 'warn' : 'debug'](attachedBefore ? 'consumer re-attached' : 'consumer attached');
        // A re-attach may find handlers of the last attach still running: theirs are not coming back.
        const arriving = attachment.arriving(iter, () => inflight.size);
        attachedBefore = true;
        retryInMs = REATTACH_MIN_MS;
        attachment.watchStatus(iter).catch((err: unknown) => logger.warn({ err }, 'consumer status watch ended'));
        for await (const msg of arriving) {
          await slots.acquire();
          if (state !== 'running') {
            slots.release();
            // Hand it straight back so another replica can take it now rather than after ack_wait.
            msg.nak();
            continue;
          }
          const task = processMessage(msg)
            .catch((err: unknown) => logger.error({ err, seq: msg.seq }, 'settling a message failed; it will be redelivered'))
            .finally(() => {
              slots.release();
              inflight.delete(task);
            });
          inflight.add(task);
        }
        const closedWith = await iter.closed();
        if (closedWith instanceof Error && state === 'running') logger.warn({ err: closedWith }, 'consumer stopped; getting it again');
      } catch (err) {
        if (state !== 'running') break;
        logger.error({ err, retryInMs }, 'could not consume; retrying');
      }
      if (state === 'running') {
        await attachment.pause(retryInMs);
        retryInMs = Math.min(retryInMs * 2, REATTACH_MAX_MS);
      }
    }
  }

  async function processMessage(msg: JsMsg): Promise<void> {
    const stopTimer = metrics.duration.startTimer({ service, tenant });
    const headers = headersToRecord(msg.headers);
    const eventId = msg.headers?.get('Nats-Msg-Id');
    const inbound: InboundMessage = {
      subject: msg.subject,
      data: msg.data,
      headers,
      ...(eventId !== undefined && eventId !== '' ? { eventId } : {}),
      deliveryCount: msg.info.deliveryCount,
      storedAtMs: Math.floor(msg.info.timestampNanos / 1e6),
      streamSeq: msg.seq,
      tenant,
    };
    const parent = extractTraceContext(headers, ROOT_CONTEXT);
    const span = tracer.startSpan(
      `${service} process ${stream}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'nats',
          'messaging.destination.name': msg.subject,
          'messaging.consumer.group.name': durable,
          'messaging.message.id': inbound.eventId ?? '',
          'switchyard.tenant': tenant,
          'switchyard.delivery_count': inbound.deliveryCount,
        },
      },
      parent,
    );
    // Slow handlers would otherwise be redelivered to another replica while still running.
    const keepAlive = setInterval(() => msg.working(), Math.max(attachment.ackWaitMs() / 2, 100));
    try {
      let outcome: Outcome;
      let nonRetryableThrow = false;
      try {
        outcome = await context.with(trace.setSpan(parent, span), () => handler(inbound));
      } catch (err) {
        nonRetryableThrow = isNonRetryable(err);
        span.recordException(err instanceof Error ? err : new Error(String(err)));
        logger.warn({ err, seq: inbound.streamSeq, delivery: inbound.deliveryCount, nonRetryable: nonRetryableThrow }, 'handler threw');
        outcome = nonRetryableThrow ? deadLetter('HANDLER_ERROR', errorText(err)) : retry(errorText(err));
      }
      if (outcome.kind !== 'ack') span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error });
      const label = await settler.settle(msg, inbound, outcome, nonRetryableThrow);
      metrics.consumed.inc({ service, tenant, outcome: label });
    } finally {
      clearInterval(keepAlive);
      stopTimer();
      span.end();
    }
  }

  const loop = run();
  let stopped: Promise<void> | undefined;

  return {
    stream,
    durable,
    state: () => state,
    stop() {
      stopped ??= (async () => {
        state = 'draining';
        stopping.abort();
        await messages?.close().catch((err: unknown) => logger.debug({ err }, 'closing consumer iterator failed'));
        await loop;
        await Promise.allSettled([...inflight]);
        state = 'stopped';
        logger.debug('consumer stopped');
      })();
      return stopped;
    },
  };
}
