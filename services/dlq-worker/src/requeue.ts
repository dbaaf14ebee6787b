import { getExhausted, setExhaustedStatus, type ExhaustedEvent, type Pool } from '@switchyard/db';
import { republishExhausted, type PublishResult } from '@switchyard/nats';
import { isSubjectParseError, parseSubject, SYSTEM_TENANT } from '@switchyard/schema';
import type { JetStreamClient } from 'nats';

export type RequeueResult =
  | { kind: 'requeued'; row: ExhaustedEvent; subject: string; msgId: string; published: PublishResult }
  | { kind: 'not-found' }
  | { kind: 'conflict'; status: string }
  | { kind: 'refused'; reason: string };

/**
 * Puts an exhausted message back where it failed: its raw payload, published to its source
 * subject, then the row marked `requeued` — publish first, mark second (republishExhausted says
 * why). Two operators racing both publish; one marks the row and the other is told it conflicted.
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

  const { subject, msgId, published } = await republishExhausted(js, row, now);
  const marked = await setExhaustedStatus(pool, tenant, id, 'requeued');
  if (!marked) return { kind: 'conflict', status: (await getExhausted(pool, tenant, id))?.status ?? 'gone' };
  return { kind: 'requeued', row, subject, msgId, published };
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
