import { isNonRetryable } from '@switchyard/runtime';
import { durableName, SYSTEM_TENANT, STREAMS, tenantFilterSubject, type StreamKind } from '@switchyard/schema';
import { type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from 'nats';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { DEFAULT_RETRY_BACKOFF_MS } from './consume.ts';
import type { DurableConsumerOptions } from './consumers.ts';
import { consumerMetrics } from './metrics.ts';
import { retry, type InboundMessage, type Outcome } from './outcome.ts';
import { headersToRecord } from './publish.ts';
import { pullAttachment } from './pull-attachment.ts';
import { createSettler, errorText } from './settle.ts';
import { followTenants, type TenantBucketOptions } from './tenant-registry.ts';

/**
 * Gets the messages of one batch, in stream order, and answers one outcome per message (same
 * index). Resolving means every `ack` outcome is durable (e.g. the batch's transaction committed):
 * only then does the loop ack. A throw counts as `retry` for every message (or dead-letters them
 * all when the error is non-retryable).
 */
export type BatchHandler = (messages: readonly InboundMessage[]) => Promise<Outcome[]>;

export interface StartBatchConsumerOptions {
  js: JetStreamClient;
  jsm?: JetStreamManager;
  ensure?: Omit<DurableConsumerOptions, 'stream' | 'durable'>;
  stream: string;
  durable: string;
  tenant: string;
  service: string;
  handler: BatchHandler;
  logger: Logger;
  registry: Registry;
  /** At most this many messages per batch. Default 500. */
  batchSize?: number;
  /** Once a batch has its first message, wait at most this long for more. Default 20 ms. */
  maxWaitMs?: number;
  /** Deliveries before a retry becomes a MAX_DELIVERIES dead-letter. Default 5. */
  maxDeliver?: number;
  retryBackoffMs?: number[];
  /** Tests only: where dead-letters go instead of `v1.dlq.<tenant>`. */
  dlqSubject?: string;
}

export interface RunningBatchConsumer {
  readonly stream: string;
  readonly durable: string;
  state(): 'running' | 'draining' | 'stopped';
  /** Stops pulling, waits for the batch in flight to be settled, then resolves. */
  stop(): Promise<void>;
}

const REATTACH_MIN_MS = 250;
const REATTACH_MAX_MS = 10_000;
const TIMED_OUT = Symbol('timed out');



/**
 * Like `startConsumer`, but the handler sees batches: one batch at a time per durable, so a
 * tenant's events keep their stream order, and a handler can write a whole batch in one
 * transaction with bulk statements. Settlement per message follows the same rules as
 * `startConsumer` (ack after the handler resolved; retry with backoff until `maxDeliver`, then
 * MAX_DELIVERIES; dead-letter only once the DLQ record is stored). When every message of a batch
 * asks for a retry (an outage), the loop also waits the backoff before taking the next batch,
 * so later events do not overtake the ones it nak'd.
 */
export function startBatchConsumer(options: StartBatchConsumerOptions): RunningBatchConsumer {
  const { js, jsm, ensure, stream, durable, tenant, service, handler, registry } = options;
  const batchSize = Math.max(1, options.batchSize ?? 500);
  const maxWaitMs = Math.max(0, options.maxWaitMs ?? 20);
  const maxDeliver = options.maxDeliver ?? 5;
  const backoff = options.retryBackoffMs !== undefined && options.retryBackoffMs.length > 0 ? options.retryBackoffMs : [...DEFAULT_RETRY_BACKOFF_MS];
  const logger = options.logger.child({ stream, durable, tenant });
  const metrics = consumerMetrics(registry);
  const stopping = new AbortController();
  let state: 'running' | 'draining' | 'stopped' = 'running';
  let messages: ConsumerMessages | undefined;

  const attachment = pullAttachment({ js, jsm, ensure, stream, durable, maxMessages: batchSize, logger, signal: stopping.signal });
  const settler = createSettler({
    js,
    stream,
    durable,
    tenant,
    service,
    maxDeliver,
    retryBackoffMs: backoff,
    ...(options.dlqSubject !== undefined ? { dlqSubject: options.dlqSubject } : {}),
    logger,
    metrics,
  });
  const backoffFor = settler.backoffFor;

  /** Collects up to batchSize messages: the first blocks, the rest may take maxWaitMs more. */
  function batcher(iter: ConsumerMessages) {
    const it = iter[Symbol.asyncIterator]();
    // A next() that lost a race with the timer still holds the following message: keep it.
    let pending: Promise<IteratorResult<JsMsg>> | undefined;
    return async (): Promise<JsMsg[] | null> => {
      pending ??= it.next();
      const first = await pending;
      pending = undefined;
      if (first.done === true) return null;
      const batch = [first.value];
      const deadline = Date.now() + maxWaitMs;
      while (batch.length < batchSize) {
        pending ??= it.next();
        const next = await raceDeadline(pending, deadline);
        if (next === TIMED_OUT) break;
        pending = undefined;
        if (next.done === true) break;
        batch.push(next.value);
      }
      return batch;
    };
  }

  async function run(): Promise<void> {
    let retryInMs = REATTACH_MIN_MS;
    while (state === 'running') {
      try {
        const iter = await attachment.attach();
        messages = iter;
        if (state !== 'running') {
          await iter.close();
          break;
        }
        retryInMs = REATTACH_MIN_MS;
        attachment.watchStatus(iter).catch((err: unknown) => logger.warn({ err }, 'consumer status watch ended'));
        const nextBatch = batcher(iter);
        for (let batch = await nextBatch(); batch !== null; batch = await nextBatch()) {
          if (state !== 'running') {
            // Hand them straight back so another replica can take them now.
            for (const msg of batch) msg.nak();
            continue;
          }
          const waitMs = await processBatch(batch);
          if (waitMs > 0) await attachment.pause(waitMs);
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

  function toInbound(msg: JsMsg): InboundMessage {
    const eventId = msg.headers?.get('Nats-Msg-Id');
    return {
      subject: msg.subject,
      data: msg.data,
      headers: headersToRecord(msg.headers),
      ...(eventId !== undefined && eventId !== '' ? { eventId } : {}),
      deliveryCount: msg.info.deliveryCount,
      streamSeq: msg.seq,
      tenant,
    };
  }

  /** Runs the handler over one batch and settles every message; answers how long to pause. */
  async function processBatch(batch: JsMsg[]): Promise<number> {
    const stopTimer = metrics.duration.startTimer({ service, tenant });
    const inbound = batch.map(toInbound);
    // A big batch (a history sync) may outlast ack_wait; tell the server we are still on it.
    const keepAlive = setInterval(() => batch.forEach((m) => m.working()), Math.max(attachment.ackWaitMs() / 2, 100));
    let outcomes: Outcome[];
    let nonRetryableThrow = false;
    try {
      outcomes = await handler(inbound);
      if (outcomes.length !== batch.length) throw new Error(`batch handler answered ${outcomes.length} outcomes for ${batch.length} messages`);
    } catch (err) {
      nonRetryableThrow = isNonRetryable(err);
      logger.warn({ err, size: batch.length, nonRetryable: nonRetryableThrow }, 'batch handler threw');
      const outcome: Outcome = nonRetryableThrow ? { kind: 'dead-letter', reason: 'HANDLER_ERROR', error: errorText(err) } : retry(errorText(err));
      outcomes = batch.map(() => outcome);
    } finally {
      clearInterval(keepAlive);
    }
    let allRetry = true;
    for (const [i, msg] of batch.entries()) {
      const outcome = outcomes[i] ?? retry('no outcome');
      if (outcome.kind !== 'retry') allRetry = false;
      try {
        const label = await settler.settle(msg, inbound[i]!, outcome, nonRetryableThrow);
        metrics.consumed.inc({ service, tenant, outcome: label });
      } catch (err) {
        logger.error({ err, seq: msg.seq }, 'settling a message failed; it will be redelivered');
      }
    }
    stopTimer({});
    const first = inbound[0];
    return allRetry && first !== undefined ? backoffFor(first.deliveryCount) : 0;
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
        // The loop finishes the batch in flight (settling it) before it sees the closed iterator.
        await loop;
        state = 'stopped';
      })();
      return stopped;
    },
  };
}

async function raceDeadline<T>(promise: Promise<T>, deadline: number): Promise<T | typeof TIMED_OUT> {
  const ms = deadline - Date.now();
  if (ms <= 0) {
    // Already buffered messages still join the batch; only a real wait is cut short.
    return Promise.race([promise, new Promise<typeof TIMED_OUT>((resolve) => setImmediate(() => resolve(TIMED_OUT)))]);
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export interface TenantBatchConsumerOptions extends TenantBucketOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  service: string;
  kind: StreamKind;
  handlerFor(tenant: string): BatchHandler;
  logger: Logger;
  registry: Registry;
  batchSize?: number;
  maxWaitMs?: number;
  maxDeliver?: number;
  retryBackoffMs?: number[];
  ackWaitMs?: number;
  /** Must be at least batchSize, or batches never fill. Default: max(1000, 2 × batchSize). */
  maxAckPending?: number;
}

export interface TenantBatchConsumers {
  tenants(): string[];
  stop(): Promise<void>;
}

/**
 * One batch consumer per announced tenant, the batch counterpart of `startTenantConsumers`:
 * started when a tenant is announced, stopped and its durable deleted when it is retracted.
 */
export async function startTenantBatchConsumers(options: TenantBatchConsumerOptions): Promise<TenantBatchConsumers> {
  const { js, jsm, service, kind, logger, registry } = options;
  const stream = STREAMS[kind];
  const batchSize = options.batchSize ?? 500;
  const maxAckPending = options.maxAckPending ?? Math.max(1000, batchSize * 2);
  return followTenants({
    js,
    jsm,
    stream,
    logger,
    ...(options.bucket !== undefined ? { bucket: options.bucket } : {}),
    skip: [SYSTEM_TENANT],
    start(tenant) {
      return startBatchConsumer({
        js,
        jsm,
        ensure: {
          filterSubject: tenantFilterSubject(kind, tenant),
          maxAckPending,
          ...(options.ackWaitMs !== undefined ? { ackWaitMs: options.ackWaitMs } : {}),
        },
        stream,
        durable: durableName(service, tenant),
        tenant,
        service,
        handler: options.handlerFor(tenant),
        logger,
        registry,
        batchSize,
        ...(options.maxWaitMs !== undefined ? { maxWaitMs: options.maxWaitMs } : {}),
        ...(options.maxDeliver !== undefined ? { maxDeliver: options.maxDeliver } : {}),
        ...(options.retryBackoffMs !== undefined ? { retryBackoffMs: options.retryBackoffMs } : {}),
      });
    },
  });
}
