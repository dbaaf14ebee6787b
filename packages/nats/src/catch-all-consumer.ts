import type { DlqReason } from '@switchyard/schema';
import {
  AckPolicy,
  DeliverPolicy,
  nanos,
  ReplayPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from 'nats';
import type { Logger } from 'pino';
import { LogThrottle } from '@switchyard/runtime';
import { buildDlqRecord, publishToDlq } from './dlq.ts';
import { isConsumerNotFound } from './errors.ts';
import { headersToRecord } from './publish.ts';

export interface CatchAllConsumerOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  /** Shared by every replica, like the per-tenant durables. */
  durable: string;
  /** Everything the stream may hold, e.g. `v1.ingest.>`. */
  filterSubject: string;
  service: string;
  /**
   * Undefined when a per-tenant durable already consumes this subject: the catch-all leaves it
   * alone, so no valid tenant's message is handled twice. Otherwise where the dead-letter goes
   * (`_system` when the subject names no valid tenant) and why.
   */
  classify(subject: string): Unclaimed | undefined;
  logger: Logger;
  /** Called once per dead-lettered message, after its DLQ record is stored. */
  onDeadLetter?(unclaimed: Unclaimed): void;
  /** Messages per pull. Default 512. */
  batch?: number;
  /** Tests only: where records go instead of `v1.dlq._system`. */
  dlqSubject?: string;
}

export interface Unclaimed {
  tenant: string;
  reason: DlqReason;
  error: string;
}

export interface RunningCatchAll {
  stop(): Promise<void>;
}

const PULL_EXPIRES_MS = 2_000;
const RETRY_MS = 1_000;

/**
 * Dead-letters what no per-tenant durable will ever read — e.g. INGEST subjects whose tenant
 * token is not a valid tenant id, or a valid tenant's subject outside every filter of its
 * durables. Nothing else sees those messages, so without this they would sit unconsumed until
 * max_age deleted them, silently.
 *
 * It has to look at every message to find the few bad ones, so it is built to be cheap: the
 * server sends headers only (the subject is all it judges by), and acks are cumulative (AckAll)
 * — one ack per pulled batch, sent only once every bad message of the batch has a stored DLQ
 * record. A crash redelivers from the last ack; DLQ records are deduplicated by source seq.
 */
/** One line per tenant and reason per window, then a count (see LogThrottle). */
const unclaimedLogs = new LogThrottle();

export function startCatchAllConsumer(options: CatchAllConsumerOptions): RunningCatchAll {
  const { js, jsm, stream, durable, logger } = options;
  const log = logger.child({ stream, durable, catchAll: true });
  const batch = options.batch ?? 512;
  let running = true;
  const wake = new AbortController();

  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });

  async function ensure(): Promise<void> {
    const config = {
      durable_name: durable,
      filter_subject: options.filterSubject,
      ack_policy: AckPolicy.All,
      deliver_policy: DeliverPolicy.All,
      replay_policy: ReplayPolicy.Instant,
      headers_only: true,
      max_deliver: -1,
      ack_wait: nanos(30_000),
      max_ack_pending: batch * 4,
    };
    try {
      await jsm.consumers.info(stream, durable);
    } catch (err) {
      if (!isConsumerNotFound(err)) throw err;
      await jsm.consumers.add(stream, config);
    }
  }

  async function deadLetter(msg: JsMsg, unclaimed: Unclaimed): Promise<void> {
    // Headers only were delivered; the DLQ record keeps the raw bytes, so read them back once.
    const stored = await jsm.streams.getMessage(stream, { seq: msg.seq });
    const headers = headersToRecord(stored.header);
    const eventId = stored.header.get('Nats-Msg-Id');
    const record = buildDlqRecord({
      tenant: unclaimed.tenant,
      service: options.service,
      sourceStream: stream,
      sourceSubject: stored.subject,
      sourceSeq: stored.seq,
      consumer: durable,
      ...(eventId !== '' ? { eventId } : {}),
      reason: unclaimed.reason,
      error: unclaimed.error,
      retryable: false,
      deliveries: msg.info.deliveryCount,
      headers,
      payload: stored.data,
    });
    await publishToDlq(
      js,
      record,
      options.dlqSubject !== undefined ? { subject: options.dlqSubject } : {},
    );
    options.onDeadLetter?.(unclaimed);
    unclaimedLogs.warn(
      log,
      `${unclaimed.tenant}\u0000${unclaimed.reason}`,
      { subject: stored.subject, seq: stored.seq, tenant: unclaimed.tenant, reason: unclaimed.reason },
      'unclaimed message dead-lettered',
      'more unclaimed messages dead-lettered for the same reason',
    );
  }

  async function drainOnce(): Promise<void> {
    const consumer = await js.consumers.get(stream, durable);
    const messages = await consumer.fetch({ max_messages: batch, expires: PULL_EXPIRES_MS });
    let last: JsMsg | undefined;
    for await (const msg of messages) {
      const unclaimed = options.classify(msg.subject);
      if (unclaimed !== undefined) await deadLetter(msg, unclaimed);
      last = msg;
    }
    // AckAll: acknowledging the last settles the whole batch, bad ones included (stored above).
    if (last !== undefined) await last.ackAck();
  }

  const loop = (async () => {
    let ensured = false;
    while (running) {
      try {
        if (!ensured) {
          await ensure();
          ensured = true;
        }
        await drainOnce();
      } catch (err) {
        if (!running) break;
        // Not acked: the batch comes back after ack_wait and is judged again (DLQ dedupes).
        ensured = !isConsumerNotFound(err);
        log.error({ err }, 'catch-all consumer failed; retrying');
        await pause(RETRY_MS);
      }
    }
  })();

  return {
    async stop() {
      running = false;
      wake.abort();
      await loop;
    },
  };
}
