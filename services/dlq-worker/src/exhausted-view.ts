import type { ExhaustedEvent } from '@switchyard/db';
import { attemptSchema, dlqReasonSchema } from '@switchyard/schema';
import { z } from 'zod';

const statusSchema = z.enum(['open', 'requeued', 'discarded']);

/** One exhausted event as listed: everything but the payload bytes (which can be large). */
export const exhaustedSummarySchema = z
  .object({
    id: z.string().describe('Row id within the tenant (or system) table'),
    dlq_key: z.string().describe('source_stream:source_seq:consumer — one row per failed message'),
    claimed_tenant: z.string().nullable().describe('System rows only: the tenant the message named'),
    event_id: z.string().nullable(),
    service: z.string().describe('The service that gave up on the message'),
    source_stream: z.string(),
    source_subject: z.string().describe('Where a requeue publishes the payload'),
    source_seq: z.number().int(),
    consumer: z.string(),
    reason: dlqReasonSchema,
    error: z.string(),
    retryable: z.boolean(),
    deliveries: z.number().int(),
    failed_at: z.iso.datetime(),
    exhausted_at: z.iso.datetime(),
    status: statusSchema,
    requeued_at: z.iso.datetime().nullable(),
    payload_size: z.number().int().describe('Payload length in bytes'),
  })
  .describe('An event that could not be processed');

/** One exhausted event in full, payload and attempt history included. */
export const exhaustedDetailSchema = exhaustedSummarySchema
  .extend({
    attempts: z.array(attemptSchema),
    headers: z.record(z.string(), z.array(z.string())),
    payload_base64: z.string().describe('The original message bytes, untouched'),
    payload_text: z.string().nullable().describe('The payload as text when it is valid UTF-8, else null'),
  })
  .describe('An event that could not be processed, with its payload and attempts');

export type ExhaustedSummary = z.infer<typeof exhaustedSummarySchema>;
export type ExhaustedDetail = z.infer<typeof exhaustedDetailSchema>;

export const exhaustedStatusSchema = statusSchema;

export function toSummary(row: ExhaustedEvent): ExhaustedSummary {
  return {
    id: row.id,
    dlq_key: row.dlqKey,
    claimed_tenant: row.claimedTenant,
    event_id: row.eventId,
    service: row.service,
    source_stream: row.sourceStream,
    source_subject: row.sourceSubject,
    source_seq: row.sourceSeq,
    consumer: row.consumer,
    reason: row.reason,
    error: row.error,
    retryable: row.retryable,
    deliveries: row.deliveries,
    failed_at: row.failedAt.toISOString(),
    exhausted_at: row.exhaustedAt.toISOString(),
    status: row.status,
    requeued_at: row.requeuedAt?.toISOString() ?? null,
    payload_size: row.payload.byteLength,
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function toDetail(row: ExhaustedEvent): ExhaustedDetail {
  return {
    ...toSummary(row),
    attempts: row.attempts,
    headers: row.headers,
    payload_base64: row.payload.toString('base64'),
    payload_text: payloadText(row.payload),
  };
}

function payloadText(payload: Buffer): string | null {
  try {
    return utf8.decode(payload);
  } catch {
    return null;
  }
}
