import { isConnectionError, type Endpoint } from '@switchyard/db';
import { ack, publishWebhookDelivery, retry, webhookDeliveryMsgId, type Handler, type Outcome } from '@switchyard/nats';
import { HEADERS, headerValue } from '@switchyard/schema';
import type { Logger } from '@switchyard/runtime';
import { handleEnvelopes } from '@switchyard/service';
import type { JetStreamClient } from 'nats';
import type { EndpointCache } from './endpoint-cache.ts';
import type { EndpointWorkers } from './endpoint-workers.ts';
import { matchesEventType } from './event-type-match.ts';
import type { WebhookMetrics } from './metrics.ts';

export interface FanOutDeps {
  js: JetStreamClient;
  endpoints: EndpointCache;
  workers: EndpointWorkers;
  metrics: WebhookMetrics;
  logger: Logger;
  stream?: string;
}

/**
 * EVENTS → WEBHOOKS: one delivery message per enabled endpoint whose filters match, then the
 * event is acked — only once every one of them is stored, so a crash in between re-publishes
 * and the `<event>:<endpoint>` Nats-Msg-Id stores each pair once. The tenant's durable runs one
 * event at a time, so each endpoint's subject receives an instance's events in `seq` order.
 * No HTTP happens here: a slow endpoint cannot hold up the fan-out of anyone's events.
 */
export function fanOut(deps: FanOutDeps): Handler {
  return handleEnvelopes(deps.logger, async (event, msg): Promise<Outcome> => {
    let endpoints: Endpoint[];
    try {
      endpoints = await deps.endpoints.get(msg.tenant);
    } catch (err) {
      if (isConnectionError(err)) return retry(`postgres unavailable: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
    const matching = endpoints.filter((endpoint) => matchesEventType(endpoint.eventTypes, event.type));
    if (matching.length === 0) return ack();
    // A replay (persistence's replay API) must reach endpoints again: its own Nats-Msg-Id gets it
    // past JetStream's duplicate window, and the newer WEBHOOKS message starts a new delivery run.
    // The receiver still sees the same webhook-id, the event's id.
    const replay = headerValue(msg.headers, HEADERS.replay);
    await Promise.all(
      matching.map((endpoint) =>
        publishWebhookDelivery(
          deps.js,
          {
            tenant: msg.tenant,
            endpointId: endpoint.id,
            instance: event.instance,
            eventId: event.id,
            eventType: event.type,
            seq: event.seq ?? 0,
            body: msg.data,
            ...(replay === undefined ? {} : { msgId: `${webhookDeliveryMsgId(event.id, endpoint.id)}:replay:${replay}` }),
          },
          deps.stream,
        ),
      ),
    );
    deps.metrics.fannedOut.inc({ tenant: msg.tenant }, matching.length);
    if (matching.some((endpoint) => !deps.workers.has(msg.tenant, endpoint.id))) {
      // A new endpoint: start its worker now rather than at the next periodic reconcile.
      deps.workers.reconcile(msg.tenant).catch((err: unknown) => deps.logger.error({ err, tenant: msg.tenant }, 'endpoint reconcile failed'));
    }
    return ack();
  });
}
