import type { Attempt, DlqReason } from '@switchyard/schema';
import { ConsumerEvents, type ConsumerStatus, type JetStreamClient, type JsMsg } from 'nats';
import type { Logger } from 'pino';
import { LogThrottle } from '@switchyard/runtime';
import { buildDlqRecord, publishToDlq } from './dlq.ts';
import type { ConsumerMetrics } from './metrics.ts';
import type { InboundMessage, Outcome } from './outcome.ts';

/**
 * Turning a handler's outcome into what JetStream is told — shared by the one-at-a-time loop
 * (consume.ts) and the batch loop (consume-batch.ts), so both keep exactly the same rules:
 * - `ack`: `msg.ack()`, fire-and-forget (a lost ack is a redelivery of an idempotent effect).
 * - `retry`: `nak(delay)` on the backoff schedule until the delivery count reaches `maxDeliver`,
 *   then dead-letter with MAX_DELIVERIES.
 * - `dead-letter`: publish a validated DlqRecord, await its PubAck, only then ack the original;
 *   if the DLQ publish fails, nak with a delay so the message is never lost between streams.
 * `maxDeliver: -1` means the consumer has no DLQ to fall back on (the dlq-worker's own): every
 * failure is retried.
 */
/** nak delay by delivery when a consumer sets none: the n-th delivery waits the n-th entry, the last repeats. */
export const DEFAULT_RETRY_BACKOFF_MS = [1_000, 5_000, 15_000, 60_000] as const;

export interface SettleOptions {
  js: JetStreamClient;
  stream: string;
  durable: string;
  tenant: string;
  service: string;
  maxDeliver: number;
  /** Delay before redelivery n (1-based); the last entry repeats. Unset or empty: DEFAULT_RETRY_BACKOFF_MS. */
  retryBackoffMs?: readonly number[] | undefined;
  /** Tests only: a private DLQ subject. */
  dlqSubject?: string;
  logger: Logger;
  metrics: ConsumerMetrics;
}

export interface Settler {
  /** Settles one message and returns the `outcome` label for events_consumed_total. */
  settle(msg: JsMsg, inbound: InboundMessage, outcome: Outcome, nonRetryableThrow: boolean): Promise<string>;
  /** The backoff before redelivering a message delivered `deliveryCount` times. */
  backoffFor: (deliveryCount: number) => number;
  /** The longest of those delays: how long a message this loop nak'd may stay away. */
  longestBackoffMs: number;
}

const deadLetterLogs = new LogThrottle();

export function createSettler(options: SettleOptions): Settler {
  const { js, stream, durable, tenant, service, maxDeliver, logger, metrics } = options;
  const backoff = options.retryBackoffMs !== undefined && options.retryBackoffMs.length > 0 ? options.retryBackoffMs : DEFAULT_RETRY_BACKOFF_MS;
  const backoffFor = (deliveryCount: number): number => backoff[Math.min(Math.max(deliveryCount, 1), backoff.length) - 1] ?? DEFAULT_RETRY_BACKOFF_MS[0];

  function nakForRetry(msg: JsMsg, inbound: InboundMessage, delayMs: number | undefined): string {
    msg.nak(delayMs ?? backoffFor(inbound.deliveryCount));
    metrics.retries.inc({ service, tenant });
    return 'retry';
  }

  async function handOff(
    msg: JsMsg,
    inbound: InboundMessage,
    reason: DlqReason,
    error: string,
    retryable: boolean | undefined,
    attempts: Attempt[] | undefined,
  ): Promise<string> {
    try {
      const record = buildDlqRecord({
        tenant,
        service,
        sourceStream: stream,
        sourceSubject: inbound.subject,
        sourceSeq: inbound.streamSeq,
        consumer: durable,
        ...(inbound.eventId !== undefined ? { eventId: inbound.eventId } : {}),
        reason,
        error,
        ...(retryable !== undefined ? { retryable } : {}),
        deliveries: inbound.deliveryCount,
        ...(attempts !== undefined ? { attempts } : {}),
        headers: inbound.headers,
        payload: inbound.data,
      });
      await publishToDlq(js, record, options.dlqSubject !== undefined ? { subject: options.dlqSubject } : {});
    } catch (err) {
      // The original stays in its stream; nak so it comes back and the hand-off is retried.
      logger.error({ err, seq: inbound.streamSeq, reason }, 'DLQ publish failed; message kept for retry');
      msg.nak(backoffFor(inbound.deliveryCount));
      metrics.retries.inc({ service, tenant });
      return 'dlq_failed';
    }
    msg.ack();
    metrics.dlqPublished.inc({ service, tenant, reason });
    // Throttled per consumer and reason (see LogThrottle): the DLQ record and the metric above
    // account for every one.
    deadLetterLogs.warn(
      logger,
      `${service}\u0000${durable}\u0000${reason}`,
      { seq: inbound.streamSeq, reason, error, delivery: inbound.deliveryCount },
      'message dead-lettered',
      'more messages dead-lettered for the same reason',
    );
    return 'dead_letter';
  }

  return {
    backoffFor,
    longestBackoffMs: Math.max(...backoff),
    async settle(msg, inbound, outcome, nonRetryableThrow) {
      switch (outcome.kind) {
        case 'ack':
          msg.ack();
          return 'ack';
        case 'retry':
          if (maxDeliver !== -1 && inbound.deliveryCount >= maxDeliver) {
            return handOff(msg, inbound, 'MAX_DELIVERIES', outcome.error, true, undefined);
          }
          return nakForRetry(msg, inbound, outcome.delayMs);
        case 'dead-letter':
          if (maxDeliver === -1) {
            logger.error({ seq: inbound.streamSeq, reason: outcome.reason, error: outcome.error }, 'dead-letter requested with maxDeliver -1; retrying instead');
            return nakForRetry(msg, inbound, undefined);
          }
          return handOff(msg, inbound, outcome.reason, outcome.error, nonRetryableThrow ? false : undefined, outcome.attempts);
      }
    },
  };
}

/** Status events after which a consume loop throws the iterator away and gets the consumer again. */
export function needsReattach(status: ConsumerStatus): boolean {
  return (
    status.type === ConsumerEvents.ConsumerDeleted ||
    status.type === ConsumerEvents.ConsumerNotFound ||
    status.type === ConsumerEvents.StreamNotFound ||
    status.type === ConsumerEvents.HeartbeatsMissed ||
    status.type === ConsumerEvents.NoResponders
  );
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
