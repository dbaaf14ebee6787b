import { forTenant, type Pool } from '@switchyard/db';
import type { EventEnvelope } from '@switchyard/schema';

/**
 * Stores one event in its tenant's schema. The event id is the primary key, so a redelivery, a
 * re-capture or a replay of the same event is a no-op (`inserted: false`). A single statement
 * in autocommit: when this resolves, the row is committed and the message may be acked.
 */
export async function insertEvent(pool: Pool, event: EventEnvelope): Promise<{ inserted: boolean }> {
  const result = await forTenant(pool, event.tenant).query(
    `INSERT INTO :SCHEMA.events (id, instance, type, seq, source, correlation_id, occurred_at, captured_at, data)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
     ON CONFLICT (id) DO NOTHING`,
    [
      event.id,
      event.instance,
      event.type,
      event.seq ?? null,
      event.source,
      event.correlation_id ?? null,
      event.occurred_at,
      event.captured_at,
      JSON.stringify(event.data),
    ],
  );
  return { inserted: result.rowCount === 1 };
}
