import { forTenant, type Pool } from '@switchyard/db';
import type { EventEnvelope } from '@switchyard/schema';
import { ensurePartitions, partitionFor, type MonthPartition } from './partitions.ts';
import { projectEvents } from './project-events.ts';
import { runStatements, stateStatements, type Statement } from './state-writes.ts';

export interface StoreBatchResult {
  /** Ids stored by this call; the others were already stored (a redelivery, re-capture or replay). */
  inserted: Set<string>;
}

/**
 * Everything about a batch that needs no database, built before its transaction (while the one
 * before it commits): its rows as JSON texts Postgres parses once, in as few statements as the
 * data allows.
 */
export interface BatchPlan {
  /** The first copy of each id, in batch (stream) order. */
  events: EventEnvelope[];
  /** The months the batch touches (history reaches back years). */
  months: MonthPartition[];
  /**
   * One statement: claim the ids, log the events they won and, if that was every one of them
   * (the usual case), apply the state upserts too. Answers the claimed ids.
   */
  store: Statement;
  /** State statements that must follow the upserts (edits, LID mappings); only if all were new. */
  after: Statement[];
}

export function planBatch(events: readonly EventEnvelope[]): BatchPlan {
  const unique = firstCopies(events);
  const months = new Map<string, MonthPartition>();
  for (const event of unique) {
    const p = partitionFor(new Date(event.occurred_at));
    if (!months.has(p.name)) months.set(p.name, p);
  }
  const state = stateStatements(projectEvents(unique));
  return {
    events: unique,
    months: [...months.values()],
    store: storeStatement(unique, state.filter((st) => st.afterUpserts !== true)),
    after: state.filter((st) => st.afterUpserts === true),
  };
}

/**
 * Stores one tenant's batch: every event in the log once, and what the new ones change in the
 * state tables, in ONE transaction, so a batch (a history sync of 10,000 messages included)
 * lands whole or not at all, and the caller acks only after it resolved (committed).
 *
 * Exactly-once by id: `event_ids` is written first with ON CONFLICT DO NOTHING RETURNING id; only
 * the ids it returns go into `events` and the projections, so a batch seen twice changes nothing.
 */
export async function storeBatch(pool: Pool, tenant: string, events: readonly EventEnvelope[]): Promise<StoreBatchResult> {
  return writeBatch(pool, tenant, planBatch(events));
}

/** `storeBatch` for a batch planned ahead. */
export async function writeBatch(pool: Pool, tenant: string, plan: BatchPlan): Promise<StoreBatchResult> {
  if (plan.events.length === 0) return { inserted: new Set() };
  const db = forTenant(pool, tenant);
  // Checked for every batch, not remembered: a retention pass on some replica may drop a month
  // (an old one a history sync reaches back to) between two batches.
  await ensurePartitions(db, plan.months);
  return db.transaction(async (tx) => {
    const claimed = await tx.query<{ id: string }>(plan.store.text, plan.store.params);
    const inserted = new Set(claimed.rows.map((row) => row.id));
    if (inserted.size === plan.events.length) await runStatements(tx, plan.after);
    else if (inserted.size > 0) {
      // Some were stored before (a redelivery overlapping a committed batch): the store statement
      // left the state alone; project the new ones only.
      await runStatements(tx, stateStatements(projectEvents(plan.events.filter((e) => inserted.has(e.id)))));
    }
    return { inserted };
  });
}

const STATE_SOURCE = 'jsonb_to_recordset($1::jsonb)';

/**
 * Claims the ids and logs the events they won, and applies `upserts` if every event was new, in
 * one statement: one round trip, the rows parsed once. The claim's RETURNING is what the log
 * joins on, so an id stored before is neither logged twice nor projected again. Each upsert
 * becomes a CTE whose rows are its JSON only when the claim took all `events` (else none: the
 * caller projects the new ones); the CTEs touch different tables and all see the rows as they
 * were before the batch, as the upserts' rules expect (onboarding asks "unknown before this
 * batch"). Postgres runs every data-modifying CTE to completion, read or not.
 */
function storeStatement(events: readonly EventEnvelope[], upserts: readonly Statement[]): Statement {
  const params: unknown[] = [JSON.stringify(events), events.length];
  const ctes = upserts.map((upsert, i) => {
    if (upsert.params.length !== 1 || upsert.text.split(STATE_SOURCE).length !== 2) {
      throw new Error(`state upsert not in the expected shape: ${upsert.text.slice(0, 80)}`);
    }
    params.push(upsert.params[0]);
    const rows = `jsonb_to_recordset(CASE WHEN (SELECT all_new FROM claim_count) THEN $${params.length}::jsonb ELSE '[]'::jsonb END)`;
    return `, state_${i} AS (${upsert.text.replace(STATE_SOURCE, rows)})`;
  });
  return {
    text: `WITH batch AS (
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(id text, instance text, type text, seq bigint, source text,
         correlation_id text, occurred_at timestamptz, captured_at timestamptz, data jsonb)
     ), claimed AS (
       INSERT INTO :SCHEMA.event_ids (id, occurred_at) SELECT id, occurred_at FROM batch
       ON CONFLICT (id) DO NOTHING
       RETURNING id
     ), logged AS (
       INSERT INTO :SCHEMA.events (id, instance, type, seq, source, correlation_id, occurred_at, captured_at, data)
       SELECT b.id, b.instance, b.type, b.seq, b.source, b.correlation_id, b.occurred_at, b.captured_at, b.data
         FROM batch b JOIN claimed c ON c.id = b.id
     ), claim_count AS (
       SELECT count(*) = $2::int AS all_new FROM claimed
     )${ctes.join('\n     ')}
     SELECT id FROM claimed`,
    params,
  };
}

/** The first copy of each id, in batch (stream) order: a second copy in one batch is a duplicate. */
function firstCopies(events: readonly EventEnvelope[]): EventEnvelope[] {
  const seen = new Set<string>();
  return events.filter((e) => {
    if (seen.has(e.id)) return false;
    seen.add(e.id);
    return true;
  });
}
