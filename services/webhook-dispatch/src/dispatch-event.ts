import { isConnectionError, type Endpoint } from '@switchyard/db';
import { ack, deadLetter, retry, type Handler, type Outcome } from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import { handleEnvelopes } from '@switchyard/service';
import type { DeliveryLedger } from './delivery-ledger.ts';
import type { EndpointCache } from './endpoint-cache.ts';
import { matchesEventType } from './event-type-match.ts';
import { countDelivery, type WebhookMetrics } from './metrics.ts';
import { postWebhook, type DeliveryResult } from './post-webhook.ts';

export const SERVICE = 'webhook-dispatch';

export interface DispatchEventDeps {
  endpoints: EndpointCache;
  ledger: DeliveryLedger;
  metrics: WebhookMetrics;
  logger: Logger;
  /** The wait after the n-th failed delivery; see WEBHOOK_RETRY_DELAYS. */
  retryDelaysMs: readonly number[];
  /** The delivery on which a still-failing event is dead-lettered (with its attempt history). */
  maxDeliver: number;
}

/**
 * EVENTS → every matching endpoint of the tenant. The event is acked once each matching endpoint
 * answered 2xx; while any fails the whole event is retried on the schedule, skipping endpoints
 * that already got it (see DeliveryLedger for how far that memory goes), and on the last delivery
 * it is dead-lettered with every attempt. Until deliveries are tracked per endpoint, one failing
 * endpoint holds back the tenant's later events, which keeps per-instance order for every endpoint.
 */
export function dispatchEvent(deps: DispatchEventDeps): Handler {
  // The envelope guard matters here: `msg.tenant`'s endpoints receive whatever passes it.
  return handleEnvelopes(deps.logger, async (event, msg): Promise<Outcome> => {
    let endpoints: Endpoint[];
    try {
      endpoints = await deps.endpoints.get(msg.tenant);
    } catch (err) {
      if (isConnectionError(err)) return retry(`postgres unavailable: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
    const done = deps.ledger.delivered(event.id);
    const pending = endpoints.filter((endpoint) => matchesEventType(endpoint.eventTypes, event.type) && !done.has(endpoint.id));
    if (pending.length === 0) return settled(deps, event.id, ack());

    const at = new Date();
    const results = await Promise.all(pending.map((endpoint) => postWebhook(endpoint, { eventId: event.id, body: msg.data })));
    for (const result of results) countDelivery(deps.metrics, msg.tenant, result.outcome, result.latencyMs);
    deps.ledger.record(event.id, { service: SERVICE, delivery: msg.deliveryCount, at }, results);

    const failed = results.filter((result) => !result.ok);
    if (failed.length === 0) return settled(deps, event.id, ack());
    const error = describeFailures(failed, pending.length);
    if (msg.deliveryCount >= deps.maxDeliver) {
      deps.logger.warn({ tenant: msg.tenant, eventId: event.id, delivery: msg.deliveryCount, error }, 'webhook delivery exhausted');
      return settled(deps, event.id, deadLetter('MAX_DELIVERIES', error, deps.ledger.attempts(event.id)));
    }
    const delayMs = retryDelay(deps.retryDelaysMs, msg.deliveryCount);
    deps.logger.info({ tenant: msg.tenant, eventId: event.id, delivery: msg.deliveryCount, delayMs, error }, 'webhook delivery failed; will retry');
    return retry(error, delayMs);
  });
}

/** The wait after the `deliveryCount`-th delivery failed; the last entry repeats if deliveries outrun it. */
export function retryDelay(delaysMs: readonly number[], deliveryCount: number): number {
  if (delaysMs.length === 0) return 0;
  return delaysMs[Math.min(Math.max(deliveryCount, 1), delaysMs.length) - 1] ?? 0;
}

function settled(deps: DispatchEventDeps, eventId: string, outcome: Outcome): Outcome {
  deps.ledger.forget(eventId);
  return outcome;
}

function describeFailures(failed: readonly DeliveryResult[], tried: number): string {
  const each = failed.map((result) => `${result.endpointId}: ${result.error ?? result.outcome}`).join('; ');
  return `${failed.length} of ${tried} endpoints failed: ${each}`;
}
