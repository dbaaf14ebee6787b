import { webhookDeliverySubject, WEBHOOKS_SUBJECTS } from '@switchyard/schema';
import { nanos, type JetStreamClient, type JetStreamManager } from 'nats';
import type { BatchMessage } from './atomic-batch.ts';
import { isMessageNotFound, isStreamNotFound } from './errors.ts';
import { publishEvent, headersToRecord, type PublishResult } from './publish.ts';
import { STREAM_DEFAULTS, streamConfig, type StreamSpec } from './streams.ts';

/**
 * The WEBHOOKS stream: one message per (event, endpoint) pair, so each delivery is retried and
 * acknowledged on its own. Subjects are `v1.webhooks.<tenant>.<endpoint>.<instance>`: the
 * endpoint token gives every endpoint its own durable (a slow endpoint holds only its own
 * consumer), and the instance token lets the deliverer keep per-instance order. The body is the
 * event exactly as it was on EVENTS, so the signature covers the bytes the router stored.
 */
export const WEBHOOKS_STREAM = 'WEBHOOKS';

/** Headers the fan-out sets on a delivery, so the deliverer never has to parse the body to order it. */
export const WEBHOOK_HEADERS = {
  eventId: 'Switchyard-Event-Id',
  eventType: 'Switchyard-Event-Type',
  instance: 'Switchyard-Instance',
  seq: 'Switchyard-Seq',
} as const;

// Subjects and durable names come from @switchyard/schema (webhookDeliverySubject,
// webhookEndpointFilter, webhookDurableName), like every other subject.

/** `<event id>:<endpoint id>`: a fan-out replayed inside the duplicate window stores nothing new. */
export function webhookDeliveryMsgId(eventId: string, endpointId: string): string {
  return `${eventId}:${endpointId}`;
}

/** Same durability choices as the pipeline's streams (see STREAM_DEFAULTS), 7 days of history. */
export function webhooksStreamConfig(options: { name?: string; replicas?: number; maxAgeMs?: number } = {}): StreamSpec {
  const identity = { name: options.name ?? WEBHOOKS_STREAM, subjects: WEBHOOKS_SUBJECTS };
  const base = streamConfig('events', { streams: { events: identity }, ...(options.replicas !== undefined ? { replicas: options.replicas } : {}) });
  return { ...base, max_age: nanos(options.maxAgeMs ?? STREAM_DEFAULTS.maxAgeMs.events) };
}

export interface WebhookDelivery {
  tenant: string;
  endpointId: string;
  instance: string;
  eventId: string;
  eventType: string;
  seq: number;
  body: Uint8Array;
  /** Default `<event id>:<endpoint id>`; a manual re-send passes a fresh one. */
  msgId?: string;
}

/** A delivery as the message stored for it: subject, `Nats-Msg-Id` and the Switchyard-* headers. */
export function webhookDeliveryMessage(delivery: WebhookDelivery): BatchMessage {
  return {
    subject: webhookDeliverySubject(delivery.tenant, delivery.endpointId, delivery.instance),
    data: delivery.body,
    msgId: delivery.msgId ?? webhookDeliveryMsgId(delivery.eventId, delivery.endpointId),
    headers: {
      [WEBHOOK_HEADERS.eventId]: delivery.eventId,
      [WEBHOOK_HEADERS.eventType]: delivery.eventType,
      [WEBHOOK_HEADERS.instance]: delivery.instance,
      [WEBHOOK_HEADERS.seq]: String(delivery.seq),
    },
  };
}

/** Stores one delivery and resolves once JetStream has it. */
export function publishWebhookDelivery(js: JetStreamClient, delivery: WebhookDelivery, stream = WEBHOOKS_STREAM): Promise<PublishResult> {
  const message = webhookDeliveryMessage(delivery);
  return publishEvent(js, message.subject, message.data, { msgId: message.msgId, expectStream: stream, ...(message.headers ? { headers: message.headers } : {}) });
}

export interface StoredMessage {
  subject: string;
  data: Uint8Array;
  headers: Record<string, string[]>;
}

/** A message still held by a stream, by sequence; undefined once it aged out (or never was). */
export async function readStoredMessage(jsm: JetStreamManager, stream: string, seq: number): Promise<StoredMessage | undefined> {
  try {
    const stored = await jsm.streams.getMessage(stream, { seq });
    return { subject: stored.subject, data: stored.data, headers: headersToRecord(stored.header) };
  } catch (err) {
    if (isStreamNotFound(err) || isMessageNotFound(err)) return undefined;
    throw err;
  }
}

