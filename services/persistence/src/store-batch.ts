import { CONTROL_SCHEMA, forTenant, pgErrorCode, type Pool } from '@switchyard/db';
import type { EventEnvelope } from '@switchyard/schema';
import { ensurePartitions, partitionFor, type MonthPartition } from './partitions.ts';
import { projectEvents } from './project-events.ts';
import { runStatements, stateStatements, type Statement } from './state-writes.ts';

export interface StoreBatchResult {
  /** Ids stored by this call; the others were already stored (a redelivery, re-capture or replay). */
  inserted: Set<string>;
  /** The one-statement write was undone (SYB01: some ids were stored before) and done again in a transaction. */
  rewritten: boolean;
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
  /**
   * `store` to run as its own transaction: when the batch changes state, it raises SYB01 (and so
   * changes nothing) unless every id was new. Used when `after` is empty.
   */
  storeAlone: Statement;
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
  const { store, storeAlone } = storeStatements(unique, state.filter((st) => st.afterUpserts !== true));
  return { events: unique, months: [...months.values()], store, storeAlone, after: state.filter((st) => st.afterUpserts === true) };
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
  const plan = planBatch(events);
  await ensurePartitions(forTenant(pool, tenant), plan.months);
  return writeBatch(pool, tenant, plan);
}

/**
 * `storeBatch` for a batch planned ahead, whose months the caller made sure of with
 * `ensurePartitions` (checked for every batch, not remembered: a retention pass on some replica
 * may drop a month, an old one a history sync reaches back to, between two batches; a row of a
 * month without its table lands in events_default and is moved when the month is created).
 *
 * One round trip in the usual case (every event new, no statement that must follow the upserts):
 * the store statement alone, which Postgres runs as its own transaction, so there is no BEGIN or
 * COMMIT to wait for (a busy consumer process answers each round trip late). It raises SYB01 and
 * changes nothing if some events were stored before (a redelivery overlapping a committed batch);
 * the batch is then written in an explicit transaction that projects the new events only.
 */
export async function writeBatch(pool: Pool, tenant: string, plan: BatchPlan): Promise<StoreBatchResult> {
  if (plan.events.length === 0) return { inserted: new Set(), rewritten: false };
  const db = forTenant(pool, tenant);
  const alone = plan.after.length === 0;
  if (alone) {
    try {
      return { inserted: claimedIds((await db.query<StoreRow>(plan.storeAlone.text, plan.storeAlone.params, PREPARED)).rows), rewritten: false };
    } catch (err) {
      if (pgErrorCode(err) !== PARTLY_STORED) throw err;
    }
  }
  const inserted = await db.transaction(async (tx) => {
    const claimed = claimedIds((await tx.query<StoreRow>(plan.store.text, plan.store.params, PREPARED)).rows);
    if (claimed.size === plan.events.length) await runStatements(tx, plan.after);
    else if (claimed.size > 0) {
      // Some were stored before (a redelivery overlapping a committed batch): the store statement
      // left the state alone; project the new ones only.
      await runStatements(tx, stateStatements(projectEvents(plan.events.filter((e) => claimed.has(e.id)))));
    }
    return claimed;
  });
  return { inserted, rewritten: alone };
}

/**
 * The store statement runs prepared: its plan (a many-CTE upsert into a partitioned table) cost
 * Postgres ~600 of the ~1,350 µs each call took at 1,000 events/s, planned anew every time.
 * A tenant has a few variants (which state tables a batch touches); see queryPrepared.
 */
const PREPARED = { prepared: true } as const;

/** What the store statement answers: the ids it claimed, or one null row when it claimed none. */
interface StoreRow {
  id: string | null;
}

function claimedIds(rows: readonly StoreRow[]): Set<string> {
  return new Set(rows.flatMap((row) => (row.id === null ? [] : [row.id])));
}

/** Raised by switchyard.require_all_claimed (control migration 000003): some ids were stored before. */
const PARTLY_STORED = 'SYB01';

const STATE_SOURCE = 'jsonb_to_recordset($1::jsonb)';

/**
 * Claims the ids and logs the events they won, and applies `upserts` if every event was new, in
 * one statement: one round trip, the rows parsed once. The claim's RETURNING is what the log
 * joins on, so an id stored before is neither logged twice nor projected again. Each upsert
 * becomes a CTE whose rows are its JSON only when the claim took all `events` (else none: the
 * caller projects the new ones); the CTEs touch different tables and all see the rows as they
 * were before the batch, as the upserts' rules expect (onboarding asks "unknown before this
 * batch"). Postgres runs every data-modifying CTE to completion, read or not.
 *
 * `storeAlone` is the same statement (same parameters, the rows serialised once) except that,
 * when there are upserts, it fails with SYB01 instead when not every id was new.
 */
function storeStatements(events: readonly EventEnvelope[], upserts: readonly Statement[]): { store: Statement; storeAlone: Statement } {
  const params: unknown[] = [JSON.stringify(events), events.length];
  const ctes = upserts.map((upsert, i) => {
    if (upsert.params.length !== 1 || upsert.text.split(STATE_SOURCE).length !== 2) {
      throw new Error(`state upsert not in the expected shape: ${upsert.text.slice(0, 80)}`);
    }
    params.push(upsert.params[0]);
    const rows = `jsonb_to_recordset(CASE WHEN (SELECT all_new FROM claim_count) THEN $${params.length}::jsonb ELSE '[]'::jsonb END)`;
    return `, state_${i} AS (${upsert.text.replace(STATE_SOURCE, rows)})`;
  });
  const text = (claimCount: string) => `WITH batch AS (
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
       SELECT ${claimCount} AS all_new FROM claimed
     )${ctes.join('\n     ')}
     -- At least one row, so claim_count (and its guard) is evaluated even when nothing was claimed.
     SELECT c.id FROM claim_count LEFT JOIN claimed c ON true`;
  const store = { text: text('count(*) = $2::int'), params };
  if (upserts.length === 0) return { store, storeAlone: store };
  return { store, storeAlone: { text: text(`${CONTROL_SCHEMA}.require_all_claimed(count(*), $2::int)`), params } };
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
