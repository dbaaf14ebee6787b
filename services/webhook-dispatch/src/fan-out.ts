import { isConnectionError, type Endpoint } from '@switchyard/db';
import {
  ack,
  ATOMIC_BATCH_MIN_MESSAGES,
  atomicBatchesSupported,
  deadLetter,
  publishAtomicRun,
  publishWebhookDelivery,
  webhookDeliveryMessage,
  WEBHOOKS_STREAM,
  retry,
  webhookDeliveryMsgId,
  type BatchHandler,
  type InboundMessage,
  type Outcome,
  type PublishResult,
  type WebhookDelivery,
} from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import { HEADERS, headerValue, parseEnvelope, type EventEnvelope } from '@switchyard/schema';
import { rejectMessage } from '@switchyard/service';
import { ErrorCode, NatsError, type JetStreamClient, type NatsConnection } from 'nats';
import type { EndpointCache } from './endpoint-cache.ts';
import type { EndpointWorkers } from './endpoint-workers.ts';
import { matchesEventType } from './event-type-match.ts';
import { HELD_AFTER_MS, InstanceHolds } from './instance-holds.ts';
import type { WebhookMetrics } from './metrics.ts';

export interface FanOutDeps {
  js: JetStreamClient;
  /** With it, a batch's deliveries are stored as atomic batches (see fanOutAtomically). */
  nc?: NatsConnection;
  endpoints: EndpointCache;
  workers: EndpointWorkers;
  metrics: WebhookMetrics;
  logger: Logger;
  /** The consume loop's limit: a retry at this delivery becomes a dead-letter, so it holds nothing back. */
  maxDeliver: number;
  /** The wait before redelivery n (1-based, the last entry repeats); the same schedule the loop uses. */
  retryBackoffMs: readonly number[];
  stream?: string;
}

/** One event of a batch, read and validated. */
interface BatchEvent {
  index: number;
  msg: InboundMessage;
  event: EventEnvelope;
}

/**
 * EVENTS → WEBHOOKS, a batch at a time: one delivery message per enabled endpoint whose filters
 * match. An event is acked only once every one of its deliveries is stored; a crash in between
 * re-publishes, and the `<event>:<endpoint>` Nats-Msg-Id stores each pair once.
 *
 * A batch of ATOMIC_BATCH_MIN_MESSAGES deliveries or more is stored as atomic batches, all or
 * nothing and in stream order (fanOutAtomically). Otherwise, or when that is refused:
 *
 * Pipelined across instances, chained within one: every instance of the batch is fanned out at
 * the same time, but an instance's next event is published only once JetStream stored its
 * previous one. That is what keeps each `v1.webhooks.<tenant>.<endpoint>.<instance>` subject in
 * the instance's order even when a publish fails: had the later events been sent behind it, they
 * could be stored (a reconnect resends what was buffered; one message too large fails alone)
 * ahead of the retried one, and no retry could put them back behind it. The chain costs one
 * NATS round trip per event of an instance, below the one HTTP exchange per event that the
 * instance's delivery to an endpoint is bound by anyway (deliveries of an instance are serial).
 *
 * A failed publish retries its event and every later event of the same instance, and the
 * instance stays held (see InstanceHolds) until that event is through. No HTTP happens here: a
 * slow endpoint cannot hold up anyone's fan-out. One handler per tenant consumer: the holds are
 * that tenant's.
 */
export function fanOut(deps: FanOutDeps): BatchHandler {
  const holds = new InstanceHolds();
  return async (batch) => {
    const tenant = batch[0]?.tenant;
    if (tenant === undefined) return [];
    let endpoints: Endpoint[];
    try {
      endpoints = await deps.endpoints.get(tenant);
    } catch (err) {
      if (isConnectionError(err)) return batch.map(() => retry(`postgres unavailable: ${err instanceof Error ? err.message : String(err)}`));
      throw err;
    }
    const outcomes: Outcome[] = new Array<Outcome>(batch.length);
    // Redeliveries can arrive in any order; taking the batch in stream order keeps instances in order.
    const ordered = batch.map((msg, index) => ({ msg, index })).sort((a, b) => a.msg.streamSeq - b.msg.streamSeq);
    const byInstance = new Map<string, BatchEvent[]>();
    for (const { msg, index } of ordered) {
      const event = readEvent(deps.logger, msg);
      if (!isEvent(event)) {
        outcomes[index] = event;
        continue;
      }
      const events = byInstance.get(event.instance);
      if (events === undefined) byInstance.set(event.instance, [{ index, msg, event }]);
      else events.push({ index, msg, event });
    }
    const stored =
      (await fanOutAtomically(deps, holds, endpoints, byInstance, outcomes)) ??
      (await Promise.all([...byInstance.values()].map((events) => fanOutInstance(deps, holds, endpoints, events, outcomes)))).reduce((sum, n) => sum + n, 0);
    if (stored > 0) deps.metrics.fannedOut.inc({ tenant }, stored);
    const types = new Set([...byInstance.values()].flat().map(({ event }) => event.type));
    const routedTo = endpoints.filter((endpoint) => [...types].some((type) => matchesEventType(endpoint.eventTypes, type)));
    if (routedTo.some((endpoint) => !deps.workers.has(tenant, endpoint.id))) {
      // A new endpoint: start its worker now rather than at the next periodic reconcile.
      deps.workers.reconcile(tenant).catch((err: unknown) => deps.logger.error({ err, tenant }, 'endpoint reconcile failed'));
    }
    return outcomes;
  };
}

/**
 * The common case in one go: every delivery of the batch, in stream order, stored as consecutive
 * atomic batches (publishAtomicRun) — a few round trips for the whole batch instead of one per
 * event of each instance, and ~5 instead of ~35 µs of client CPU per delivery. All or nothing,
 * so order per subject holds without chaining. Answers how many deliveries it stored, or
 * undefined when it stored nothing it could stand on: then the batch takes the one-by-one path
 * (fanOutInstance), where anything already stored is a duplicate by its Nats-Msg-Id. That path
 * also takes every batch with a held instance (its holds are decided per event), every batch
 * of fewer than ATOMIC_BATCH_MIN_MESSAGES deliveries, and every batch when the server has no
 * atomic batches (before 2.12).
 */
async function fanOutAtomically(
  deps: FanOutDeps,
  holds: InstanceHolds,
  endpoints: readonly Endpoint[],
  byInstance: ReadonlyMap<string, readonly BatchEvent[]>,
  outcomes: Outcome[],
): Promise<number | undefined> {
  const { nc } = deps;
  if (nc === undefined || !atomicBatchesSupported(nc)) return undefined;
  const now = Date.now();
  const events = [...byInstance.values()].flat();
  if (events.some(({ msg, event }) => holds.holding(event.instance, msg.streamSeq, now) !== undefined)) return undefined;
  events.sort((a, b) => a.msg.streamSeq - b.msg.streamSeq);
  // Counted before anything is encoded: a small batch (the common case at low load) takes the
  // one-by-one path, which encodes its deliveries itself.
  const pairs = events.flatMap(({ msg, event }) => matchingEndpoints(endpoints, event).map((endpoint) => ({ msg, event, endpoint })));
  if (pairs.length < ATOMIC_BATCH_MIN_MESSAGES) return undefined;
  const messages = pairs.map(({ msg, event, endpoint }) => webhookDeliveryMessage(delivery(msg, event, endpoint)));
  const run = await publishAtomicRun(nc, messages, { stream: deps.stream ?? WEBHOOKS_STREAM });
  if (run.refused !== undefined) {
    deps.metrics.atomicFallbacks.inc({ tenant: events[0]!.msg.tenant });
    deps.logger.debug({ tenant: events[0]!.msg.tenant, deliveries: messages.length, stored: run.results.length, reason: run.refused }, 'atomic fan-out refused; publishing the deliveries one by one');
    return undefined;
  }
  for (const { index, msg, event } of events) {
    holds.release(event.instance, msg.streamSeq);
    outcomes[index] = ack();
  }
  return messages.length;
}

/** One instance's events of a batch, in order; answers how many deliveries it stored. */
async function fanOutInstance(deps: FanOutDeps, holds: InstanceHolds, endpoints: readonly Endpoint[], events: readonly BatchEvent[], outcomes: Outcome[]): Promise<number> {
  let stored = 0;
  for (const [position, { index, msg, event }] of events.entries()) {
    const { instance } = event;
    const held = holds.holding(instance, msg.streamSeq, Date.now());
    if (held !== undefined) {
      outcomes[index] = retry(`instance ${instance} waits for the event at stream seq ${held.streamSeq} to be fanned out first`, held.delayMs);
      continue;
    }
    const matching = matchingEndpoints(endpoints, event);
    const results = await Promise.allSettled(matching.map((endpoint) => publish(deps, msg, event, endpoint)));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure === undefined) {
      holds.release(instance, msg.streamSeq);
      outcomes[index] = ack();
      stored += matching.length;
      continue;
    }
    const error = `publishing to WEBHOOKS failed: ${failure.reason instanceof Error ? failure.reason.message : String(failure.reason)}`;
    if (isPayloadTooLarge(failure.reason)) {
      // No retry can make it fit (the delivery headers put it over NATS' max_payload): kept whole in
      // the DLQ, and its instance goes on rather than waiting out every retry behind it.
      outcomes[index] = deadLetter('PAYLOAD_TOO_LARGE', error);
      continue;
    }
    const delayMs = backoffFor(deps.retryBackoffMs, msg.deliveryCount);
    outcomes[index] = retry(error, delayMs);
    deps.logger.warn({ tenant: msg.tenant, instance, eventId: event.id, streamSeq: msg.streamSeq, delivery: msg.deliveryCount, error }, "fan-out publish failed; the event and its instance's later events will be retried");
    // At its last delivery the loop dead-letters it instead: then nothing of the instance waits for it.
    if (deps.maxDeliver !== -1 && msg.deliveryCount >= deps.maxDeliver) holds.release(instance, msg.streamSeq);
    else holds.hold(instance, msg.streamSeq, Date.now() + delayMs);
    for (const later of events.slice(position + 1)) {
      outcomes[later.index] = retry(`the event at stream seq ${msg.streamSeq} of instance ${instance} failed to fan out first`, delayMs + HELD_AFTER_MS);
    }
    break;
  }
  return stored;
}

function isPayloadTooLarge(err: unknown): boolean {
  return err instanceof NatsError && err.code === (ErrorCode.MaxPayloadExceeded as string);
}

function matchingEndpoints(endpoints: readonly Endpoint[], event: EventEnvelope): Endpoint[] {
  return endpoints.filter((endpoint) => matchesEventType(endpoint.eventTypes, event.type));
}

function publish(deps: FanOutDeps, msg: InboundMessage, event: EventEnvelope, endpoint: Endpoint): Promise<PublishResult> {
  return publishWebhookDelivery(deps.js, delivery(msg, event, endpoint), deps.stream);
}

function delivery(msg: InboundMessage, event: EventEnvelope, endpoint: Endpoint): WebhookDelivery {
  // A replay (persistence's replay API) must reach endpoints again: its own Nats-Msg-Id gets it
  // past JetStream's duplicate window, and the newer WEBHOOKS message starts a new delivery run.
  // The receiver still sees the same webhook-id, the event's id.
  const replay = headerValue(msg.headers, HEADERS.replay);
  return {
    tenant: msg.tenant,
    endpointId: endpoint.id,
    instance: event.instance,
    eventId: event.id,
    eventType: event.type,
    seq: event.seq ?? 0,
    body: msg.data,
    ...(replay === undefined ? {} : { msgId: `${webhookDeliveryMsgId(event.id, endpoint.id)}:replay:${replay}` }),
  };
}

/** The same guard as `handleEnvelopes`: a valid envelope of the durable's own tenant, or a dead-letter. */
function readEvent(logger: Logger, msg: InboundMessage): EventEnvelope | Outcome {
  const parsed = parseEnvelope(msg.data);
  if (!parsed.ok) return rejectMessage(logger, msg, parsed.code, parsed.message);
  if (parsed.event.tenant !== msg.tenant) {
    return rejectMessage(logger, msg, 'TENANT_MISMATCH', `event of tenant ${parsed.event.tenant} consumed for ${msg.tenant} on ${msg.subject}`);
  }
  return parsed.event;
}

function isEvent(value: EventEnvelope | Outcome): value is EventEnvelope {
  return !('kind' in value);
}

function backoffFor(schedule: readonly number[], deliveryCount: number): number {
  return schedule[Math.min(Math.max(deliveryCount, 1), schedule.length) - 1] ?? 1_000;
}
