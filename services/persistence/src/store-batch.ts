import { forTenant, type Pool, type TenantQueryable } from '@switchyard/db';
import type { EventEnvelope } from '@switchyard/schema';
import { ensurePartitions, partitionFor, type MonthPartition } from './partitions.ts';
import { projectEvents } from './project-events.ts';
import { writeStateChanges } from './state-writes.ts';

export interface StoreBatchResult {
  /** Ids stored by this call; the others were already stored (a redelivery, re-capture or replay). */
  inserted: Set<string>;
}

/**
 * Stores one tenant's batch: every event in the log once, and what the new ones change in the
 * state tables, in ONE transaction, so a batch (a history sync of 10,000 messages included)
 * lands whole or not at all, and the caller acks only after it resolved (committed).
 *
 * Exactly-once by id: `event_ids` is written first with ON CONFLICT DO NOTHING RETURNING id; only
 * the ids it returns go into `events` and the projections, so a batch seen twice changes nothing.
 */
export async function storeBatch(pool: Pool, tenant: string, events: readonly EventEnvelope[], knownPartitions?: Set<string>): Promise<StoreBatchResult> {
  const db = forTenant(pool, tenant);
  await ensureMonths(db, events, knownPartitions);
  return db.transaction(async (tx) => {
    const inserted = await claimIds(tx, events);
    if (inserted.size === 0) return { inserted };
    const fresh = freshEvents(events, inserted);
    await insertEvents(tx, fresh);
    await writeStateChanges(tx, projectEvents(fresh));
    return { inserted };
  });
}

/** Partitions for every month the batch touches (history reaches back years), created outside the transaction. */
async function ensureMonths(db: TenantQueryable, events: readonly EventEnvelope[], known: Set<string> | undefined): Promise<void> {
  const wanted = new Map<string, MonthPartition>();
  for (const event of events) {
    const p = partitionFor(new Date(event.occurred_at));
    if (known?.has(p.name) !== true) wanted.set(p.name, p);
  }
  if (wanted.size === 0) return;
  await ensurePartitions(db, [...wanted.values()]);
  for (const name of wanted.keys()) known?.add(name);
}

async function claimIds(tx: TenantQueryable, events: readonly EventEnvelope[]): Promise<Set<string>> {
  const result = await tx.query<{ id: string }>(
    `INSERT INTO :SCHEMA.event_ids (id, occurred_at)
     SELECT * FROM unnest($1::text[], $2::timestamptz[])
     ON CONFLICT (id) DO NOTHING
     RETURNING id`,
    [events.map((e) => e.id), events.map((e) => e.occurred_at)],
  );
  return new Set(result.rows.map((row) => row.id));
}

/** The first copy of each newly claimed id, in batch (stream) order. */
function freshEvents(events: readonly EventEnvelope[], inserted: Set<string>): EventEnvelope[] {
  const seen = new Set<string>();
  return events.filter((e) => {
    if (!inserted.has(e.id) || seen.has(e.id)) return false;
    seen.add(e.id);
    return true;
  });
}

async function insertEvents(tx: TenantQueryable, events: readonly EventEnvelope[]): Promise<void> {
  await tx.query(
    `INSERT INTO :SCHEMA.events (id, instance, type, seq, source, correlation_id, occurred_at, captured_at, data)
     SELECT id, instance, type, seq, source, correlation_id, occurred_at, captured_at, data::jsonb
       FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::timestamptz[], $8::timestamptz[], $9::text[])
         AS t(id, instance, type, seq, source, correlation_id, occurred_at, captured_at, data)`,
    [
      events.map((e) => e.id),
      events.map((e) => e.instance),
      events.map((e) => e.type),
      events.map((e) => e.seq ?? null),
      events.map((e) => e.source),
      events.map((e) => e.correlation_id ?? null),
      events.map((e) => e.occurred_at),
      events.map((e) => e.captured_at),
      events.map((e) => JSON.stringify(e.data)),
    ],
  );
}
