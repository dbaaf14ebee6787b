import { z } from 'zod';
import { timestampSchema } from './events/common.ts';

/**
 * Reason codes for dead-lettered messages. Input problems are never retried; processing
 * problems are retried by JetStream first, then by the dlq-worker, before they are exhausted.
 */
export const DLQ_REASONS = [
  'MALFORMED_JSON',
  'SCHEMA_INVALID',
  'UNKNOWN_TYPE',
  'PAYLOAD_TOO_LARGE',
  'TENANT_MISMATCH',
  'INVALID_SUBJECT',
  'MAX_DELIVERIES',
  'HANDLER_ERROR',
  'DELIVERY_FAILED',
  /** The media host no longer has the blob (404/410/403), or the event gives no way to fetch or decrypt it. */
  'MEDIA_UNAVAILABLE',
  /** The downloaded blob failed its MAC, its hashes or its decryption. */
  'MEDIA_INTEGRITY',
] as const;
export const dlqReasonSchema = z.enum(DLQ_REASONS);
export type DlqReason = z.infer<typeof dlqReasonSchema>;

/** One processing attempt, as much as the failing service knows of it. */
export const attemptSchema = z.object({
  at: timestampSchema,
  service: z.string(),
  delivery: z.number().int().nonnegative(),
  error: z.string(),
  /** e.g. HTTP status and latency for webhook attempts */
  detail: z.record(z.string(), z.unknown()).optional(),
});
export type Attempt = z.infer<typeof attemptSchema>;

/** What any consumer publishes to `v1.dlq.<tenant>`: the raw message and its history. */
export const dlqRecordSchema = z.object({
  dlq_version: z.literal(1),
  tenant: z.string(),
  service: z.string(),
  source_stream: z.string(),
  source_subject: z.string(),
  source_seq: z.number().int().nonnegative(),
  consumer: z.string(),
  event_id: z.string().optional(),
  reason: dlqReasonSchema,
  error: z.string(),
  retryable: z.boolean(),
  deliveries: z.number().int().nonnegative(),
  attempts: z.array(attemptSchema),
  failed_at: timestampSchema,
  headers: z.record(z.string(), z.array(z.string())),
  /** The original message bytes, untouched, so an SRE can requeue exactly what was sent. */
  payload_base64: z.string(),
});
export type DlqRecord = z.infer<typeof dlqRecordSchema>;
