import { dlqRecordSchema, dlqSubject, type Attempt, type DlqReason, type DlqRecord } from '@switchyard/schema';
import type { JetStreamClient } from 'nats';
import { InvalidDlqRecordError } from './errors.ts';
import { publishEvent, type PublishResult } from './publish.ts';

/** Reasons the dlq-worker may retry; the rest are bad input that no retry can fix. */
const RETRYABLE_REASONS: ReadonlySet<DlqReason> = new Set<DlqReason>(['MAX_DELIVERIES', 'DELIVERY_FAILED']);

export function isRetryableReason(reason: DlqReason): boolean {
  return RETRYABLE_REASONS.has(reason);
}

export interface BuildDlqRecordInput {
  tenant: string;
  service: string;
  sourceStream: string;
  sourceSubject: string;
  sourceSeq: number;
  consumer: string;
  eventId?: string;
  reason: DlqReason;
  error: string;
  /** Default: from the reason (see isRetryableReason). */
  retryable?: boolean;
  deliveries: number;
  /** The handler's history; when absent, one attempt is built from this failure. */
  attempts?: Attempt[];
  headers: Record<string, string[]>;
  payload: Uint8Array;
  failedAt?: Date;
}

/** Builds and validates a DLQ record; an invalid record is a bug, so it throws. */
export function buildDlqRecord(input: BuildDlqRecordInput): DlqRecord {
  const failedAt = (input.failedAt ?? new Date()).toISOString();
  const attempts =
    input.attempts !== undefined && input.attempts.length > 0
      ? input.attempts
      : [{ at: failedAt, service: input.service, delivery: input.deliveries, error: input.error }];
  const candidate: DlqRecord = {
    dlq_version: 1,
    tenant: input.tenant,
    service: input.service,
    source_stream: input.sourceStream,
    source_subject: input.sourceSubject,
    source_seq: input.sourceSeq,
    consumer: input.consumer,
    ...(input.eventId !== undefined ? { event_id: input.eventId } : {}),
    reason: input.reason,
    error: input.error,
    retryable: input.retryable ?? isRetryableReason(input.reason),
    deliveries: input.deliveries,
    attempts,
    failed_at: failedAt,
    headers: input.headers,
    payload_base64: Buffer.from(input.payload).toString('base64'),
  };
  const parsed = dlqRecordSchema.safeParse(candidate);
  if (!parsed.success) {
    throw new InvalidDlqRecordError(`invalid DLQ record: ${parsed.error.message}`, { cause: parsed.error });
  }
  return parsed.data;
}

/** The Nats-Msg-Id of a DLQ record: redelivering the same failure never duplicates the record. */
export function dlqMsgId(record: Pick<DlqRecord, 'source_stream' | 'source_seq' | 'consumer'>): string {
  return `dlq:${record.source_stream}:${record.source_seq}:${record.consumer}`;
}

export interface PublishToDlqOptions {
  /** Tests only: where the record goes instead of `v1.dlq.<tenant>`. */
  subject?: string;
  timeoutMs?: number;
}

/** Publishes a record to the tenant's DLQ subject and resolves once JetStream stored it. */
export async function publishToDlq(js: JetStreamClient, record: DlqRecord, options: PublishToDlqOptions = {}): Promise<PublishResult> {
  const subject = options.subject ?? dlqSubject(record.tenant);
  // Buffer.from, as encodeEnvelope does: no ArrayBuffer of its own per record (a poison burst makes many).
  const data = Buffer.from(JSON.stringify(record));
  return publishEvent(js, subject, data, {
    msgId: dlqMsgId(record),
    headers: { 'Content-Type': 'application/json' },
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
}
