import type { TenantQueryable } from '@switchyard/db';
import { ALLOCATE_SEQ_SQL, type SeqRange } from './sequence.ts';

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

/**
 * Numbers `entries` with the next `seq` values of `instance` and stores them in
 * `capture_outbox`, in ONE statement: the seq upsert and the insert commit together, so a crash
 * can neither lose a numbered event nor hand its seq out again. One round trip per emit batch.
 */
export async function storeInOutbox(
  db: TenantQueryable,
  instance: string,
  entries: readonly UnstoredEntry[],
): Promise<SeqRange> {
  if (entries.length === 0) throw new RangeError('nothing to store in the outbox');
  // A data-modifying CTE runs exactly once whether or not the outer query reads it.
  const result = await db.query<{ last_seq: string }>(
    `WITH alloc AS (${ALLOCATE_SEQ_SQL}),
     stored AS (
       INSERT INTO :SCHEMA.capture_outbox (instance, seq, event_id, type, payload)
       SELECT $1, alloc.last_seq - $2 + u.ord, u.id, u.type, u.payload
       FROM alloc, unnest($3::text[], $4::text[], $5::bytea[]) WITH ORDINALITY AS u(id, type, payload, ord)
     )
     SELECT last_seq::text AS last_seq FROM alloc`,
    [
      instance,
      entries.length,
      entries.map((e) => e.eventId),
      entries.map((e) => e.type),
      entries.map((e) => Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength)),
    ],
  );
  const last = Number(result.rows[0]?.last_seq);
  if (!Number.isSafeInteger(last))
    throw new Error(`instance_sequences returned no usable last_seq for ${instance}`);
  return { first: last - entries.length + 1, last };
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
  /** The highest waiting seq (0 when empty). */
  lastSeq: number;
}

/** What `instance` has waiting, e.g. left behind by a previous owner or a crash. */
export async function outboxBacklog(db: TenantQueryable, instance: string): Promise<OutboxBacklog> {
  const result = await db.query<{ size: string; oldest: Date | null; last_seq: string | null }>(
    `SELECT count(*)::text AS size, min(enqueued_at) AS oldest, max(seq)::text AS last_seq
     FROM :SCHEMA.capture_outbox WHERE instance = $1`,
    [instance],
  );
  const row = result.rows[0];
  return {
    size: Number(row?.size ?? 0),
    oldestAt: row?.oldest ?? undefined,
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
  const head = Buffer.from(`{"seq":${entry.seq},`);
  const out = new Uint8Array(head.byteLength + payload.byteLength - 1);
  out.set(head, 0);
  out.set(payload.subarray(1), head.byteLength);
  return out;
}
