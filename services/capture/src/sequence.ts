import type { TenantQueryable } from '@switchyard/db';

/** A contiguous block of per-instance sequence numbers: `first`, `first + 1`, …, `last`. */
export interface SeqRange {
  first: number;
  last: number;
}

/**
 * The allocation upsert, `$1` = instance, `$2` = count, ending in `RETURNING last_seq` so callers
 * can cast or alias it. The outbox embeds it in the statement that stores the events, making
 * "numbered" and "stored" one atomic step.
 */
export const ALLOCATE_SEQ_SQL = `INSERT INTO :SCHEMA.instance_sequences AS s (instance, last_seq) VALUES ($1, $2)
     ON CONFLICT (instance) DO UPDATE SET last_seq = s.last_seq + EXCLUDED.last_seq
     RETURNING last_seq`;

/** ALLOCATE_SEQ_SQL that allocates only if the `progress` CTE before it returned a row. */
export const ALLOCATE_SEQ_GATED_SQL = `INSERT INTO :SCHEMA.instance_sequences AS s (instance, last_seq)
     SELECT $1, $2 FROM progress
     ON CONFLICT (instance) DO UPDATE SET last_seq = s.last_seq + EXCLUDED.last_seq
     RETURNING last_seq`;

/**
 * Reserves `count` consecutive `seq` values for `instance` in one statement. The upsert's row lock
 * serialises concurrent allocators (another replica, a restarted process), so ranges never overlap
 * and each starts right after the previous one: monotonic, no reuse, and no gap unless events that
 * took a range are then lost — which persistence's gap counter exists to report.
 *
 * Captured events take their seq in `storeInOutbox` (same upsert, one statement with the insert);
 * this standalone form serves tools and tests.
 */
export async function allocateSeq(
  db: TenantQueryable,
  instance: string,
  count: number,
): Promise<SeqRange> {
  if (!Number.isInteger(count) || count < 1)
    throw new RangeError(`cannot allocate ${count} sequence numbers`);
  const result = await db.query<{ last_seq: string }>(
    `${ALLOCATE_SEQ_SQL}::text AS last_seq`,
    [instance, count],
  );
  const last = Number(result.rows[0]?.last_seq);
  if (!Number.isSafeInteger(last))
    throw new Error(`instance_sequences returned no usable last_seq for ${instance}`);
  return { first: last - count + 1, last };
}

/** The last `seq` handed out for `instance`, or 0 if none yet (for reconciliation and tests). */
export async function lastSeq(db: TenantQueryable, instance: string): Promise<number> {
  const result = await db.query<{ last_seq: string }>(
    `SELECT last_seq::text AS last_seq FROM :SCHEMA.instance_sequences WHERE instance = $1`,
    [instance],
  );
  const row = result.rows[0];
  return row ? Number(row.last_seq) : 0;
}
