import { setTimeout as sleep } from 'node:timers/promises';
import type { Endpoint } from '@switchyard/db';
import { ack, deadLetter, retry, WEBHOOK_HEADERS, type Handler, type InboundMessage, type Outcome } from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import { isValidInstanceId } from '@switchyard/schema';
import type { CircuitBreaker } from './circuit-breaker.ts';
import { toDlqAttempts, type AttemptKey, type Begun, type DeferredBegin, type DeliveryLog, type DeliveryRecord, type DeliveryStatus } from './delivery-log.ts';
import type { EndpointConnections } from './endpoint-connections.ts';
import type { InstanceLanes } from './instance-lanes.ts';
import type { RateLimiter, Semaphore } from './limiter.ts';
import { countDelivery, type WebhookMetrics } from './metrics.ts';
import { postWebhook, type DeliveryResult } from './post-webhook.ts';
import { isBreakerFailure, judge } from './retry-policy.ts';
import type { AllowList } from './ssrf-guard.ts';

export const SERVICE = 'webhook-dispatch';

/** A handed-back delivery is due again after this: long enough for the worker to have stopped reading. */
const HAND_BACK_MS = 1_000;

/** A disabled endpoint's delivery comes back after this (its worker is being stopped meanwhile). */
const DISABLED_HOLD_MS = 5_000;

/**
 * A first delivery of a message stored less than this ago starts its run without reading the log
 * first (see deliverToEndpoint). Older ones (a durable re-created over a stream that still holds
 * delivered messages) read it, so they are recognised as delivered instead of sent again.
 */
export const FRESH_DELIVERY_MS = 60_000;

/** A delivery that began without reading the log shows as `pending` in it after this, if still unattempted. */
export const PENDING_VISIBLE_AFTER_MS = 1_000;

export interface EndpointDeliveryDeps {
  tenant: string;
  /** The endpoint's current settings (refreshed by the supervisor). */
  endpoint(): Endpoint;
  log: DeliveryLog;
  metrics: WebhookMetrics;
  logger: Logger;
  /** WEBHOOK_RETRY_DELAYS, for endpoints without their own schedule. */
  defaultScheduleMs: readonly number[];
  retryAfterMaxMs: number;
  allow: AllowList;
  breaker?: CircuitBreaker;
  semaphore: Semaphore;
  rate?: RateLimiter;
  /** The endpoint's kept-alive connections. */
  connections?: EndpointConnections;
  lanes: InstanceLanes;
  /** Aborted when this endpoint's worker stops: waits end and the message goes back to JetStream. */
  signal: AbortSignal;
  /** The receiver answered 410: disable the endpoint (must not wait for this worker to stop). */
  onGone(reason: string): Promise<void>;
}

interface DeliveryMeta {
  eventId: string;
  eventType: string;
  instance: string;
  seq: number;
}

/**
 * WEBHOOKS → one endpoint. Each message is one delivery: it waits its turn behind earlier events
 * of its instance, then is attempted on the endpoint's schedule *inside* the handler (the
 * message stays unacked, heartbeated), with every attempt written to the delivery log first.
 * That keeps per-instance order without re-pulling, and a restart resumes from the log. Acked on
 * a 2xx; dead-lettered with the full attempt history after the last attempt.
 *
 * Only the HTTP exchange holds the instance's turn: the delivery is registered in the log as it
 * arrives (concurrently with the deliveries ahead of it), and a 2xx is written to the log after
 * the next event of the instance has been let go; the message is acked once it is written. So a
 * busy instance pays one HTTP round trip per event, not three round trips. A fresh first delivery
 * (the common case) skips the registration: nothing can be in the log for it yet, so its
 * attempt's record creates the row, and a registration as `pending` is written only if the
 * attempt has not ended after PENDING_VISIBLE_AFTER_MS. (A crash between a 2xx
 * and its log write re-sends that event, possibly after a later one: a duplicate by webhook-id,
 * like every at-least-once redelivery; the first arrivals stay in order.)
 */
export function deliverToEndpoint(deps: EndpointDeliveryDeps): Handler {
  return async (msg: InboundMessage): Promise<Outcome> => {
    const meta = readMeta(msg);
    if (typeof meta === 'string') return deadLetter('SCHEMA_INVALID', meta);
    if (deps.signal.aborted) return handBack();
    const key: Key = { tenant: deps.tenant, endpointId: deps.endpoint().id, eventId: meta.eventId, streamSeq: msg.streamSeq, eventType: meta.eventType, instance: meta.instance, seq: meta.seq };
    // A message on its first delivery, stored moments ago, is a delivery nobody has attempted: its
    // run starts at once and the attempt's record creates its row (one write instead of three).
    const deferred = msg.deliveryCount === 1 && Date.now() - msg.storedAtMs < FRESH_DELIVERY_MS
      ? deps.log.beginDeferred(key, PENDING_VISIBLE_AFTER_MS, (err) => deps.logger.warn({ err, tenant: deps.tenant, endpointId: key.endpointId, eventId: key.eventId }, 'recording a waiting delivery as pending failed'))
      : undefined;
    const begun = deferred?.begun ?? deps.log.begin(key);
    // Awaited in the lane; this keeps a failure while waiting from counting as unhandled.
    begun.catch(() => undefined);
    try {
      const turn = await deps.lanes.run(meta.instance, () => deliverOne(deps, key, meta, msg.data, begun, deferred));
      return 'settled' in turn ? turn.settled : turn;
    } finally {
      deferred?.attempted();
    }
  };
}

/** What a delivery's turn in its lane ends with: the outcome, or one still being written. */
type Turn = Outcome | { settled: Promise<Outcome> };

type Key = AttemptKey;

function readMeta(msg: InboundMessage): DeliveryMeta | string {
  const header = (name: string): string | undefined => msg.headers[name]?.[0];
  const eventId = header(WEBHOOK_HEADERS.eventId);
  const eventType = header(WEBHOOK_HEADERS.eventType);
  const instance = header(WEBHOOK_HEADERS.instance);
  const seq = Number(header(WEBHOOK_HEADERS.seq));
  if (eventId === undefined || eventType === undefined || instance === undefined || !isValidInstanceId(instance) || !Number.isSafeInteger(seq)) {
    return `delivery message on ${msg.subject} lacks its Switchyard-* headers`;
  }
  return { eventId, eventType, instance, seq };
}

async function deliverOne(deps: EndpointDeliveryDeps, key: Key, meta: DeliveryMeta, body: Uint8Array, begin: Promise<Begun>, deferred: DeferredBegin | undefined): Promise<Turn> {
  const { signal } = deps;
  if (signal.aborted) return handBack();
  const { endpointId } = key;
  const begun = await begin;
  switch (begun.kind) {
    case 'delivered':
    case 'superseded':
      return ack();
    case 'exhausted':
      // Exhausted before, but the DLQ hand-off did not complete: hand off again (idempotent).
      return exhausted(deps, key, begun.record.lastError ?? 'exhausted');
    case 'run':
      break;
  }
  let record: DeliveryRecord = begun.record;
  try {
    for (;;) {
      const wait = (record.nextAttemptAt?.getTime() ?? 0) - Date.now();
      if (wait > 0) await sleep(wait, undefined, { signal });
      const endpoint = deps.endpoint();
      if (!endpoint.enabled) return retry(`endpoint ${endpoint.id} is disabled`, DISABLED_HOLD_MS);
      const result = await attempt(deps, endpoint, meta, body);
      if (result === undefined) return handBack();
      // Its record (below) writes the row now.
      deferred?.attempted();
      const attempts = record.attempts + 1;
      const verdict = judge(result, {
        scheduleMs: endpoint.retryDelaysMs ?? deps.defaultScheduleMs,
        attempts,
        retryAfterMaxMs: deps.retryAfterMaxMs,
      });
      const at = new Date(Date.now() - result.latencyMs);
      const save = (status: DeliveryStatus, nextAttemptAt: Date | null): Promise<void> =>
        deps.log.recordAttempt(key, { number: attempts, at, result }, { status, nextAttemptAt });
      switch (verdict.kind) {
        case 'delivered':
          // Written after the lane moved on (see deliverToEndpoint); acked once written.
          return {
            settled: save('delivered', null).then(() => {
              deps.metrics.settled.inc({ tenant: deps.tenant, result: 'delivered' });
              return ack();
            }),
          };
        case 'gone': {
          await save('retrying', null);
          const reason = `receiver answered 410 Gone to event ${meta.eventId}`;
          deps.logger.warn({ tenant: deps.tenant, endpointId, eventId: meta.eventId }, 'endpoint gone (410); disabling it');
          await deps.onGone(reason);
          // The delivery stays in the stream and resumes if the tenant re-enables the endpoint.
          return retry(reason, DISABLED_HOLD_MS);
        }
        case 'exhausted':
          await save('exhausted', null);
          deps.metrics.settled.inc({ tenant: deps.tenant, result: 'exhausted' });
          deps.logger.warn({ tenant: deps.tenant, endpointId, eventId: meta.eventId, attempts, error: result.error }, 'webhook delivery exhausted');
          return exhausted(deps, key, result.error ?? result.outcome);
        case 'retry': {
          const nextAttemptAt = new Date(Date.now() + verdict.delayMs);
          await save('retrying', nextAttemptAt);
          deps.logger.info({ tenant: deps.tenant, endpointId, eventId: meta.eventId, attempts, delayMs: verdict.delayMs, error: result.error }, 'webhook attempt failed; will retry');
          record = { ...record, attempts, nextAttemptAt, status: 'retrying' };
          continue;
        }
      }
    }
  } catch (err) {
    if (signal.aborted) return handBack();
    throw err;
  }
}

/** One HTTP attempt through the breaker, the concurrency slot and the rate limit; undefined if stopped. */
async function attempt(deps: EndpointDeliveryDeps, endpoint: Endpoint, meta: DeliveryMeta, body: Uint8Array): Promise<DeliveryResult | undefined> {
  const { signal, breaker } = deps;
  await breaker?.permit(signal);
  let result: DeliveryResult | undefined;
  try {
    await deps.semaphore.acquire(signal);
    try {
      await deps.rate?.take(signal);
      result = await postWebhook(endpoint, { eventId: meta.eventId, body }, { allow: deps.allow, signal, ...(deps.connections ? { connections: deps.connections } : {}) });
    } finally {
      deps.semaphore.release();
    }
  } finally {
    // An attempt cut short by a stop says nothing about the receiver.
    if (result === undefined || signal.aborted) breaker?.release();
  }
  if (signal.aborted) return undefined;
  countDelivery(deps.metrics, deps.tenant, result.outcome, result.latencyMs);
  if (isBreakerFailure(result)) breaker?.failure();
  else breaker?.success();
  return result;
}

async function exhausted(deps: EndpointDeliveryDeps, key: { tenant: string; endpointId: string; eventId: string }, error: string): Promise<Outcome> {
  const history = await deps.log.attempts(key);
  return deadLetter('MAX_DELIVERIES', `${history.length} attempts to ${key.endpointId} failed; last: ${error}`, toDlqAttempts(SERVICE, history, key.endpointId));
}

// Stopping (shutdown, the tenant moved, the endpoint went away): give the message back. With a
// delay rather than at once: JetStream redelivers what comes due in stream order, whereas
// immediate hand-backs are redelivered in the order they were handed back, and a later event of
// an instance must never reach the next reader ahead of an earlier one.
function handBack(): Outcome {
  return retry('webhook-dispatch worker stopping; delivery handed back', HAND_BACK_MS);
}
