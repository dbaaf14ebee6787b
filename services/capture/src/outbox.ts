import type { TenantQueryable } from '@switchyard/db';
import { ALLOCATE_SEQ_GATED_SQL, ALLOCATE_SEQ_SQL, type SeqRange } from './sequence.ts';

/** An event as the outbox holds it: its seq, id and type, and its envelope bytes without `seq`. */
export interface OutboxEntry {
  seq: number;
  eventId: string;
  type: string;
  /** `encodeEnvelope` of the unsequenced event; `sequencedBytes` adds the seq when relaying. */
  payload: Uint8Array;
  /**
   * Published straight from the spool, not stored in the outbox (yet): it exists only there and
   * in the relay's memory until INGEST acknowledges it.
   */
  direct?: boolean;
}

export interface UnstoredEntry {
  eventId: string;
  type: string;
  payload: Uint8Array;
}

/** How far a batch moves its spool file's offsets (a compare-and-set on `numbered` = `from`). */
export interface SpoolAdvance {
  spool: string;
  from: number;
  to: number;
}

export interface StoreOptions {
  /**
   * The spool the entries came from: the statement stores them only if the file's `numbered`
   * offset is still `from`, and then moves both its offsets to `to` (everything before `to` is
   * now acknowledged by INGEST or in the outbox).
   */
  spool?: SpoolAdvance;
  /**
   * Events already numbered and published but not yet acknowledged (the spool's numbered run),
   * stored at their own seqs before `entries` get new ones: how they survive NATS staying away.
   */
  numbered?: readonly OutboxEntry[];
  /** Also deletes the entries up to this seq (acknowledged by INGEST), in the same statement. */
  deleteUpto?: number;
}

/** The answer when the spool's `numbered` offset was not `from`: nothing was stored or numbered. */
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
  const numbered = options.numbered ?? [];
  if (entries.length === 0 && numbered.length === 0) throw new RangeError('nothing to store in the outbox');
  const bytes = (payload: Uint8Array): Buffer => Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const params: unknown[] = [
    instance,
    entries.length,
    entries.map((e) => e.eventId),
    entries.map((e) => e.type),
    entries.map((e) => bytes(e.payload)),
    numbered.map((e) => e.seq),
    numbered.map((e) => e.eventId),
    numbered.map((e) => e.type),
    numbered.map((e) => bytes(e.payload)),
  ];
  let gate = '';
  let allocate = ALLOCATE_SEQ_SQL;
  if (options.spool) {
    params.push(options.spool.spool, options.spool.from, options.spool.to);
    // A fresh file has no row yet (from = 0); an existing row must still say `from`. The upsert
    // locks the row, so of two replayers racing over one file only one moves it and stores. Both
    // offsets end at `to`: the numbered run is empty, so its last seq no longer matters.
    gate = `progress AS (
       INSERT INTO :SCHEMA.capture_spool_progress AS p (instance, spool, consumed, numbered) VALUES ($1, $10, $12, $12)
       ON CONFLICT (instance, spool) DO UPDATE SET consumed = EXCLUDED.consumed, numbered = EXCLUDED.numbered, updated_at = now()
       WHERE GREATEST(p.consumed, p.numbered) = $11
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
       UNION ALL
       SELECT $1, n.seq, n.id, n.type, n.payload
       FROM alloc, unnest($6::bigint[], $7::text[], $8::text[], $9::bytea[]) AS n(seq, id, type, payload)
       ON CONFLICT (instance, seq) DO NOTHING
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

/**
 * Where a spool file's runs end (see the migration 000009): all zero for a file never recorded.
 * `numbered` is never below `consumed` (a row written by a capture from before the migration).
 */
export interface SpoolProgress {
  consumed: number;
  numbered: number;
  numberedLastSeq: number;
}

export async function spoolProgress(db: TenantQueryable, instance: string, spool: string): Promise<SpoolProgress> {
  const result = await db.query<{ consumed: string; numbered: string; numbered_last_seq: string }>(
    `SELECT consumed::text AS consumed, GREATEST(consumed, numbered)::text AS numbered, numbered_last_seq::text AS numbered_last_seq
       FROM :SCHEMA.capture_spool_progress WHERE instance = $1 AND spool = $2`,
    [instance, spool],
  );
  const row = result.rows[0];
  return {
    consumed: Number(row?.consumed ?? 0),
    numbered: Number(row?.numbered ?? 0),
    numberedLastSeq: Number(row?.numbered_last_seq ?? 0),
  };
}

/** `numberBatch`'s answer when the seqs would not follow the spool's numbered run (see there). */
export const NOT_CONTIGUOUS = 'not-contiguous';

export interface NumberOptions {
  spool: string;
  /** The file's `numbered` offset as the writer left it (0 for a fresh file). */
  from: number;
  /** Where the batch's last record ends. */
  to: number;
  /** How far the file is acknowledged by INGEST or stored (moves `consumed`, never back). */
  consumed: number;
  /** The last seq of the numbered run this batch extends. */
  lastSeq: number;
}

/** One instance's batch to number: `numberBatches` takes several of one tenant at once. */
export interface NumberRequest extends NumberOptions {
  instance: string;
  count: number;
}

export type NumberResult = SeqRange | typeof SPOOL_CONFLICT | typeof NOT_CONTIGUOUS;

/**
 * Allocates `count` seqs for a spooled batch that is published straight to INGEST, and records
 * in the same statement that the spool's records up to `to` are numbered, the last one with
 * the range's last seq. Nothing of the events goes to Postgres: until INGEST acknowledges them
 * they exist in the spool and in memory, and a replay after a crash publishes them with these
 * seqs (the migration 000009 explains the runs).
 *
 * Answers SPOOL_CONFLICT when the file's `numbered` offset is not `from` (an earlier attempt
 * committed although its answer was lost), and NOT_CONTIGUOUS, allocating nothing, when the
 * seqs would not follow `lastSeq` while the numbered run is not empty (`consumed` < `from`):
 * someone else allocated in between (a spool replayed elsewhere), and the run's seqs must stay
 * contiguous for a replay to know them. The caller then stores the batch in the outbox instead.
 */
export async function numberBatch(db: TenantQueryable, instance: string, count: number, options: NumberOptions): Promise<NumberResult> {
  const [result] = await numberBatches(db, [{ ...options, instance, count }]);
  return result!;
}

/**
 * `numberBatch` for several instances of one tenant in one statement (one round trip and one
 * commit), each answered as if alone. At most one request per instance (a statement may update
 * a row once); a failure fails them all, and nothing of any is committed then.
 */
export async function numberBatches(db: TenantQueryable, requests: readonly NumberRequest[]): Promise<NumberResult[]> {
  const instances = new Set<string>();
  for (const r of requests) {
    if (!Number.isInteger(r.count) || r.count < 1) throw new RangeError(`cannot number ${r.count} events`);
    if (instances.has(r.instance)) throw new Error(`instance ${r.instance} twice in one numbering statement`);
    instances.add(r.instance);
  }
  if (requests.length === 0) return [];
  // The gate reads each progress row without locking it: a live spool file has one writer
  // (replayers only take dead files), and this only guards that writer's retry after a lost answer.
  const result = await db.query<{ instance: string; last_seq: string | null; gated: boolean }>(
    `WITH req AS (
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
         AS r(instance, n, spool, from_at, to_at, consumed, run_last)
     ), progress AS (
       SELECT r.* FROM req r
        WHERE COALESCE((SELECT GREATEST(p.consumed, p.numbered) FROM :SCHEMA.capture_spool_progress p
                         WHERE p.instance = r.instance AND p.spool = r.spool), 0) = r.from_at
     ), alloc AS (
       INSERT INTO :SCHEMA.instance_sequences AS s (instance, last_seq)
       SELECT instance, n FROM progress
       ON CONFLICT (instance) DO UPDATE SET last_seq = s.last_seq + EXCLUDED.last_seq
       WHERE EXISTS (SELECT 1 FROM progress g WHERE g.instance = s.instance AND (s.last_seq = g.run_last OR g.consumed >= g.from_at))
       RETURNING instance, last_seq
     ), advanced AS (
       INSERT INTO :SCHEMA.capture_spool_progress AS p (instance, spool, consumed, numbered, numbered_last_seq)
       SELECT g.instance, g.spool, g.consumed, g.to_at, a.last_seq FROM alloc a JOIN progress g ON g.instance = a.instance
       ON CONFLICT (instance, spool) DO UPDATE
         SET consumed = GREATEST(p.consumed, EXCLUDED.consumed), numbered = EXCLUDED.numbered,
             numbered_last_seq = EXCLUDED.numbered_last_seq, updated_at = now()
     )
     SELECT r.instance, (SELECT a.last_seq::text FROM alloc a WHERE a.instance = r.instance) AS last_seq,
            EXISTS (SELECT 1 FROM progress g WHERE g.instance = r.instance) AS gated
       FROM req r`,
    [
      requests.map((r) => r.instance),
      requests.map((r) => r.count),
      requests.map((r) => r.spool),
      requests.map((r) => r.from),
      requests.map((r) => r.to),
      requests.map((r) => r.consumed),
      requests.map((r) => r.lastSeq),
    ],
    // Run for every batch of every instance: at a few events per second per number that is a
    // statement per event or two, and planning it cost Postgres more than running it.
    { prepared: true },
  );
  const rows = new Map(result.rows.map((row) => [row.instance, row]));
  return requests.map((r): NumberResult => {
    const row = rows.get(r.instance);
    if (!row?.gated) return SPOOL_CONFLICT;
    if (row.last_seq === null) return NOT_CONTIGUOUS;
    const last = Number(row.last_seq);
    if (!Number.isSafeInteger(last)) throw new Error(`instance_sequences returned no usable last_seq for ${r.instance}`);
    return { first: last - r.count + 1, last };
  });
}

/** Records that `spool` is acknowledged up to `consumed` (never moving it back or past `numbered`). */
export async function checkpointSpool(db: TenantQueryable, instance: string, spool: string, consumed: number): Promise<void> {
  await db.query(
    `UPDATE :SCHEMA.capture_spool_progress SET consumed = $3, updated_at = now()
      WHERE instance = $1 AND spool = $2 AND consumed < $3 AND GREATEST(consumed, numbered) >= $3`,
    [instance, spool, consumed],
  );
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
