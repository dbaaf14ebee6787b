import { getExhausted, setExhaustedStatus, type ExhaustedEvent, type Pool } from '@switchyard/db';
import { publishEvent, type PublishResult } from '@switchyard/nats';
import { isSubjectParseError, parseSubject, SYSTEM_TENANT } from '@switchyard/schema';
import type { JetStreamClient } from 'nats';

export type RequeueResult =
  | { kind: 'requeued'; row: ExhaustedEvent; subject: string; msgId: string; published: PublishResult }
  | { kind: 'not-found' }
  | { kind: 'conflict'; status: string }
  | { kind: 'refused'; reason: string };

/**
 * Puts an exhausted message back where it failed: its raw payload, published to its source
 * subject, then the row marked `requeued`. Publish first, mark second: a crash in between
 * leaves the row open and the message re-sent, and a second requeue only sends a duplicate,
 * which is harmless — downstream idempotency is by event id (the envelope `id`, the events
 * primary key), not by this Nats-Msg-Id. The reverse order could mark a message that never left.
 * Two operators racing both publish; one marks the row and the other is told it conflicted.
 */
export async function requeueExhausted(
  pool: Pool,
  js: JetStreamClient,
  tenant: string,
  id: string,
  now: Date = new Date(),
): Promise<RequeueResult> {
  const row = await getExhausted(pool, tenant, id);
  if (row === null) return { kind: 'not-found' };
  if (row.status !== 'open') return { kind: 'conflict', status: row.status };
  const refusal = refuseSubject(tenant, row.sourceSubject);
  if (refusal !== undefined) return { kind: 'refused', reason: refusal };

  // A fresh Nats-Msg-Id: the original id may still sit in the stream's duplicate window, which
  // would acknowledge this publish and silently store nothing.
  const msgId = requeueMsgId(row, now);
  const published = await publishEvent(js, row.sourceSubject, row.payload, { msgId, headers: requeueHeaders(row) });
  const marked = await setExhaustedStatus(pool, tenant, id, 'requeued');
  if (!marked) return { kind: 'conflict', status: (await getExhausted(pool, tenant, id))?.status ?? 'gone' };
  return { kind: 'requeued', row, subject: row.sourceSubject, msgId, published };
}

export function requeueMsgId(row: Pick<ExhaustedEvent, 'dlqKey'>, now: Date): string {
  return `requeue:${row.dlqKey}:${now.getTime()}`;
}

/**
 * A tenant's row may only be sent back to that tenant's subjects: the subject came from a DLQ
 * record, and a forged one must not let a tenant admin publish into someone else's stream.
 */
function refuseSubject(tenant: string, subject: string): string | undefined {
  if (tenant === SYSTEM_TENANT) return undefined;
  const parsed = parseSubject(subject);
  if (isSubjectParseError(parsed)) return `source subject ${subject} is not a v1 subject`;
  if (parsed.tenant !== tenant) return `source subject ${subject} belongs to another tenant`;
  return undefined;
}

// The original headers travel with the payload, minus the ones the server or tracing own.
function requeueHeaders(row: ExhaustedEvent): Record<string, string[]> {
  const headers: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(row.headers)) {
    const lower = name.toLowerCase();
    if (lower.startsWith('nats-') || lower === 'traceparent' || lower === 'tracestate') continue;
    headers[name] = values;
  }
  headers['Switchyard-Requeued-From'] = [row.dlqKey];
  return headers;
}
