import { z } from 'zod';
import { eventSourceSchema } from '@switchyard/schema';

/** An event as the read API returns it: the envelope fields plus when it was stored. */
export const storedEventSchema = z
  .object({
    id: z.string(),
    tenant: z.string(),
    instance: z.string(),
    type: z.string(),
    seq: z.number().int().nullable().describe('Per-instance capture order; null when the publisher set none'),
    source: eventSourceSchema,
    correlation_id: z.string().nullable(),
    occurred_at: z.iso.datetime(),
    captured_at: z.iso.datetime(),
    stored_at: z.iso.datetime().describe('When persistence first stored this id'),
    data: z.record(z.string(), z.unknown()).describe('The per-type payload, as validated by the router'),
  })
  .describe('A persisted event');
export type StoredEvent = z.infer<typeof storedEventSchema>;

export const EVENT_COLUMNS = 'id, instance, type, seq, source, correlation_id, occurred_at, captured_at, stored_at, data';

// pg returns int8 as text, timestamptz as Date and jsonb parsed; check that instead of casting.
const eventRowSchema = z.object({
  id: z.string(),
  instance: z.string(),
  type: z.string(),
  seq: z.string().regex(/^\d+$/).nullable(),
  source: eventSourceSchema,
  correlation_id: z.string().nullable(),
  occurred_at: z.date(),
  captured_at: z.date(),
  stored_at: z.date(),
  data: z.record(z.string(), z.unknown()),
});

/** Maps a row of `:SCHEMA.events` (selected with EVENT_COLUMNS); throws if the table and code disagree. */
export function toStoredEvent(tenant: string, row: unknown): StoredEvent {
  const r = eventRowSchema.parse(row);
  return {
    id: r.id,
    tenant,
    instance: r.instance,
    type: r.type,
    seq: r.seq === null ? null : Number(r.seq),
    source: r.source,
    correlation_id: r.correlation_id,
    occurred_at: r.occurred_at.toISOString(),
    captured_at: r.captured_at.toISOString(),
    stored_at: r.stored_at.toISOString(),
    data: r.data,
  };
}
