import type { TenantQueryable } from '@switchyard/db';
import { ALLOCATE_SEQ_GATED_SQL, ALLOCATE_SEQ_SQL, type SeqRange } from './sequence.ts';

/** An event as the outbox holds it: its seq, id and type, and its envelope bytes without `seq`. */
export interface OutboxEntry {
  seq: number;
  eventId: string;
  type: string;
  /** `encodeEnvelope` of the unsequenced event; `sequencedBytes` adds the seq when relaying. */
  payload: Uint8Array;
}

export interface UnstoredEntry {
  eventId: string;
  type: string;
  payload: Uint8Array;
}

/** How far a batch moves its spool file's consumed offset (a compare-and-set from `from`). */
export interface SpoolAdvance {
  spool: string;
  from: number;
  to: number;
}

export interface StoreOptions {
  /** The spool the entries came from; the statement stores them only if the CAS holds. */
  spool?: SpoolAdvance;
  /** Also deletes the entries up to this seq (acknowledged by INGEST), in the same statement. */
  deleteUpto?: number;
}

/** `storeInOutbox`'s answer when the spool's consumed offset was not `from`: nothing was stored. */
export const SPOOL_CONFLICT = 'spool-conflict';

/**
 * Numbers `entries` with the next `seq` values of `instance` and stores them in
 * `capture_outbox`, in ONE statement: the seq upsert and the insert commit together, so a crash
 * can neither lose a numbered event nor hand its seq out again. One round trip per emit batch.
 *
 * With `spool`, the same statement moves the spool's consumed offset from `from` to `to`, and
 * stores nothing unless the offset was `from`: a retry after a commit whose answer was lost, or a
 * second replayer of one file, then gets SPOOL_CONFLICT instead of storing the events twice.
 * With `deleteUpto`, it also deletes what INGEST acknowledged, saving the relay a round trip.
 */
export async function storeInOutbox(
  db: TenantQueryable,
  instance: string,
  entries: readonly UnstoredEntry[],
  options: StoreOptions = {},
): Promise<SeqRange | typeof SPOOL_CONFLICT> {
  if (entries.length === 0) throw new RangeError('nothing to store in the outbox');
  const params: unknown[] = [
    instance,
    entries.length,
    entries.map((e) => e.eventId),
    entries.map((e) => e.type),
    entries.map((e) => Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength)),
  ];
  let gate = '';
  let allocate = ALLOCATE_SEQ_SQL;
  if (options.spool) {
    params.push(options.spool.spool, options.spool.from, options.spool.to);
    // A fresh file has no row yet (from = 0); an existing row must still say `from`.
    gate = `progress AS (
       INSERT INTO :SCHEMA.capture_spool_progress AS p (instance, spool, consumed) VALUES ($1, $6, $8)
       ON CONFLICT (instance, spool) DO UPDATE SET consumed = EXCLUDED.consumed, updated_at = now()
       WHERE p.consumed = $7
       RETURNING 1
     ),`;
    allocate = ALLOCATE_SEQ_GATED_SQL;
  }
  let prune = '';
  if (options.deleteUpto !== undefined && options.deleteUpto > 0) {
    params.push(options.deleteUpto);
    prune = `, pruned AS (DELETE FROM :SCHEMA.capture_outbox WHERE instance = $1 AND seq <= $${params.length})`;
  }
  // A data-modifying CTE runs exactly once whether or not the outer query reads it.
  const result = await db.query<{ last_seq: string }>(
    `WITH ${gate} alloc AS (${allocate}),
     stored AS (
       INSERT INTO :SCHEMA.capture_outbox (instance, seq, event_id, type, payload)
       SELECT $1, alloc.last_seq - $2 + u.ord, u.id, u.type, u.payload
       FROM alloc, unnest($3::text[], $4::text[], $5::bytea[]) WITH ORDINALITY AS u(id, type, payload, ord)
     )${prune}
     SELECT last_seq::text AS last_seq FROM alloc`,
    params,
  );
  const row = result.rows[0];
  if (row === undefined && options.spool) return SPOOL_CONFLICT;
  const last = Number(row?.last_seq);
  if (!Number.isSafeInteger(last))
    throw new Error(`instance_sequences returned no usable last_seq for ${instance}`);
  return { first: last - entries.length + 1, last };
}

/** How far `spool` of `instance` is stored in the outbox (0 for a spool never stored from). */
export async function spoolConsumed(db: TenantQueryable, instance: string, spool: string): Promise<number> {
  const result = await db.query<{ consumed: string }>(
    `SELECT consumed::text AS consumed FROM :SCHEMA.capture_spool_progress WHERE instance = $1 AND spool = $2`,
    [instance, spool],
  );
  return Number(result.rows[0]?.consumed ?? 0);
}

/**
 * Forgets progress rows of `instance` untouched for a week. A row is kept after its file is
 * deleted (a replayer still reading the file must keep seeing the offset, or it would store the
 * records again); by a week later no replay of that file is running.
 */
export async function pruneSpoolProgress(db: TenantQueryable, instance: string): Promise<void> {
  await db.query(
    `DELETE FROM :SCHEMA.capture_spool_progress WHERE instance = $1 AND updated_at < now() - interval '7 days'`,
    [instance],
  );
}

/** Up to `limit` outbox entries of `instance` after `afterSeq`, in seq order. */
export async function readOutbox(
  db: TenantQueryable,
  instance: string,
  afterSeq: number,
  limit: number,
): Promise<OutboxEntry[]> {
  const result = await db.query<{ seq: string; event_id: string; type: string; payload: Buffer }>(
    // Ordered by the bigint column, not the text alias (ORDER BY prefers output names).
    `SELECT o.seq::text AS seq, o.event_id, o.type, o.payload FROM :SCHEMA.capture_outbox o
     WHERE o.instance = $1 AND o.seq > $2 ORDER BY o.seq LIMIT $3`,
    [instance, afterSeq, limit],
  );
  return result.rows.map((row) => ({
    seq: Number(row.seq),
    eventId: row.event_id,
    type: row.type,
    payload: row.payload,
  }));
}

/** Removes the entries of `instance` up to and including `uptoSeq` (all acknowledged by INGEST). */
export async function deleteFromOutbox(
  db: TenantQueryable,
  instance: string,
  uptoSeq: number,
): Promise<void> {
  await db.query(`DELETE FROM :SCHEMA.capture_outbox WHERE instance = $1 AND seq <= $2`, [
    instance,
    uptoSeq,
  ]);
}

export interface OutboxBacklog {
  size: number;
  /** When the oldest waiting entry was stored; undefined when the outbox is empty. */
  oldestAt: Date | undefined;
  /** The lowest waiting seq (0 when empty). */
  firstSeq: number;
  /** The highest waiting seq (0 when empty). */
  lastSeq: number;
}

/** What `instance` has waiting, e.g. left behind by a previous owner or a crash. */
export async function outboxBacklog(db: TenantQueryable, instance: string): Promise<OutboxBacklog> {
  const result = await db.query<{
    size: string;
    oldest: Date | null;
    first_seq: string | null;
    last_seq: string | null;
  }>(
    `SELECT count(*)::text AS size, min(enqueued_at) AS oldest, min(seq)::text AS first_seq,
            max(seq)::text AS last_seq
     FROM :SCHEMA.capture_outbox WHERE instance = $1`,
    [instance],
  );
  const row = result.rows[0];
  return {
    size: Number(row?.size ?? 0),
    oldestAt: row?.oldest ?? undefined,
    firstSeq: Number(row?.first_seq ?? 0),
    lastSeq: Number(row?.last_seq ?? 0),
  };
}

const OPEN_BRACE = 0x7b;

/**
 * The published bytes of an outbox entry: its stored envelope JSON with `"seq":N` added as the
 * first member. The seq is only known inside the storing statement, so the stored bytes carry
 * none; splicing it in avoids a JSON parse and re-encode per relayed event. Member order does
 * not matter to any JSON reader, and the stored bytes always start with `{` and a member (every
 * envelope has an id).
 */
export function sequencedBytes(entry: OutboxEntry): Uint8Array {
  const payload = entry.payload;
  if (payload[0] !== OPEN_BRACE) throw new Error(`outbox entry ${entry.seq} is not a JSON object`);
  const head = `{"seq":${entry.seq},`;
  const out = Buffer.allocUnsafe(head.length + payload.byteLength - 1);
  out.write(head, 0, 'latin1');
  out.set(payload.subarray(1), head.length);
  return out;
}
