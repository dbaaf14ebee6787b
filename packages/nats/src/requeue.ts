import { HEADERS } from '@switchyard/schema';
import type { JetStreamClient } from 'nats';
import { publishEvent, type PublishResult } from './publish.ts';

/** An exhausted message as stored from its DLQ record: what a requeue sends back, and where. */
export interface ExhaustedMessage {
  sourceSubject: string;
  payload: Uint8Array;
  /** The headers the message carried when it failed. */
  headers: Record<string, string[]>;
  /** The DLQ record's key; names the requeue so it can be traced back to its row. */
  dlqKey: string;
}

export interface RepublishResult {
  subject: string;
  msgId: string;
  published: PublishResult;
}

/**
 * Publishes an exhausted message's raw payload again to its source subject. Only the publish:
 * marking the row is the caller's, and must come after this resolves, so a crash in between
 * leaves the row open and a second requeue only re-sends — harmless, since consumers are
 * idempotent by event id (the envelope `id`), not by this Nats-Msg-Id. Marking first could
 * close a row whose message never left.
 */
export async function republishExhausted(
  js: JetStreamClient,
  message: ExhaustedMessage,
  now: Date = new Date(),
): Promise<RepublishResult> {
  // A fresh Nats-Msg-Id: the original id may still sit in the stream's duplicate window, which
  // would acknowledge this publish and silently store nothing.
  const msgId = requeueMsgId(message.dlqKey, now);
  const published = await publishEvent(js, message.sourceSubject, message.payload, { msgId, headers: requeueHeaders(message) });
  return { subject: message.sourceSubject, msgId, published };
}

function requeueMsgId(dlqKey: string, now: Date): string {
  return `requeue:${dlqKey}:${now.getTime()}`;
}

// The original headers travel with the payload, minus the ones the server or tracing own.
function requeueHeaders(message: ExhaustedMessage): Record<string, string[]> {
  const headers: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(message.headers)) {
    const lower = name.toLowerCase();
    if (lower.startsWith('nats-') || lower === 'traceparent' || lower === 'tracestate') continue;
    headers[name] = values;
  }
  headers[HEADERS.requeuedFrom] = [message.dlqKey];
  return headers;
}
