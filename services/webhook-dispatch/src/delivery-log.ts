import { Coalescer, forTenant, type Pool } from '@switchyard/db';
import type { Attempt } from '@switchyard/schema';
import type { DeliveryResult } from './post-webhook.ts';

export type DeliveryStatus = 'pending' | 'retrying' | 'delivered' | 'exhausted';

/** One (event, endpoint) delivery as the log holds it. */
export interface DeliveryRecord {
  endpointId: string;
  eventId: string;
  eventType: string;
  instance: string;
  seq: number;
  streamSeq: number;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
  deliveredAt: Date | null;
}

export interface AttemptRecord {
  attempt: number;
  attemptedAt: Date;
  outcome: string;
  status: number | null;
  latencyMs: number;
  error: string | null;
  responseBody: string | null;
  streamSeq: number;
}

export interface DeliveryKey {
  tenant: string;
  endpointId: string;
  eventId: string;
}

export interface BeginInput extends DeliveryKey {
  eventType: string;
  instance: string;
  seq: number;
  streamSeq: number;
}

/** A first delivery's begin, written only if its first attempt takes long (`beginDeferred`). */
export interface DeferredBegin {
  begun: Promise<Begun>;
  /** The first attempt ended: its record writes the row, the deferred begin is not needed. */
  attempted(): void;
}

/** Where a delivery message stands when it (re)arrives. */
export type Begun =
  | { kind: 'run'; record: DeliveryRecord }
  | { kind: 'delivered' }
  /** An older message of a delivery that was re-sent since: the newer one carries it. */
  | { kind: 'superseded' }
  | { kind: 'exhausted'; record: DeliveryRecord };

const COLUMN_NAMES = [
  'endpoint_id', 'event_id', 'event_type', 'instance', 'seq', 'stream_seq', 'status', 'attempts', 'next_attempt_at',
  'last_status', 'last_error', 'created_at', 'updated_at', 'delivered_at',
] as const;
const COLUMNS = COLUMN_NAMES.join(', ');

function prefixed(alias: string): string {
  return COLUMN_NAMES.map((name) => `${alias}.${name}`).join(', ');
}

/** A delivery as an attempt names it: enough to create its row when no begin wrote one. */
export type AttemptKey = BeginInput;

interface AttemptInput {
  key: AttemptKey;
  attempt: { number: number; at: Date; result: DeliveryResult };
  next: { status: DeliveryStatus; nextAttemptAt: Date | null };
}

function deliveryKey(key: { endpointId: string; eventId: string }): string {
  return `${key.endpointId}\u0000${key.eventId}`;
}

function coalescerFor<C>(map: Map<string, C>, tenant: string, create: () => C): C {
  let found = map.get(tenant);
  if (found === undefined) {
    found = create();
    map.set(tenant, found);
  }
  return found;
}

/**
 * The delivery log in the tenant's schema. It is also where retry progress survives a restart:
 * attempts and the next attempt's time are written after every attempt, before the wait, so a
 * replica that picks the message up again continues the schedule where it stood.
 */
export class DeliveryLog {
  readonly #begins = new Map<string, Coalescer<BeginInput, DeliveryRecord>>();
  readonly #attempts = new Map<string, Coalescer<AttemptInput, void>>();

  /**
   * `attemptWaitMs`: how long an attempt's record may wait to share a statement with others
   * (WEBHOOK_LOG_BATCH_WAIT; see Coalescer). Only the message's ack waits for it, never the next
   * delivery. Begins never wait: a delivery waits for its begin before its attempt.
   */
  constructor(private readonly pool: Pool, private readonly options: { attemptWaitMs?: number } = {}) {}

  /**
   * Registers the arrival of a delivery message. A message newer than the log's (a manual
   * re-send) starts a new run; the same message continues its run; an older one is superseded.
   * Arrivals at the same time share one statement (see Coalescer).
   */
  async begin(input: BeginInput): Promise<Begun> {
    const record = await coalescerFor(this.#begins, input.tenant, () => new Coalescer<BeginInput, DeliveryRecord>({ run: (inputs) => this.#beginAll(input.tenant, inputs), keyOf: deliveryKey })).submit(input);
    if (record.streamSeq > input.streamSeq) return { kind: 'superseded' };
    if (record.status === 'delivered') return { kind: 'delivered' };
    if (record.status === 'exhausted') return { kind: 'exhausted', record };
    return { kind: 'run', record };
  }

  // The existing rows come from the statement's snapshot, so a row the upsert changed is taken
  // from what the upsert returned and the snapshot's older version is left out.
  async #beginAll(tenant: string, inputs: BeginInput[]): Promise<DeliveryRecord[]> {
    const result = await forTenant(this.pool, tenant).query<Record<string, unknown>>(
      `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
           AS i (endpoint_id, event_id, event_type, instance, seq, stream_seq)
       ), upserted AS (
         INSERT INTO :SCHEMA.webhook_deliveries (endpoint_id, event_id, event_type, instance, seq, stream_seq)
         SELECT endpoint_id, event_id, event_type, instance, seq, stream_seq FROM input
         ON CONFLICT (endpoint_id, event_id) DO UPDATE
           SET stream_seq = EXCLUDED.stream_seq, status = 'pending', attempts = 0, next_attempt_at = NULL, updated_at = now()
           WHERE webhook_deliveries.stream_seq < EXCLUDED.stream_seq
         RETURNING ${COLUMNS}
       )
       SELECT ${COLUMNS} FROM upserted
       UNION ALL
       SELECT ${prefixed('d')} FROM :SCHEMA.webhook_deliveries d JOIN input i USING (endpoint_id, event_id)
        WHERE NOT EXISTS (SELECT 1 FROM upserted u WHERE u.endpoint_id = d.endpoint_id AND u.event_id = d.event_id)`,
      [
        inputs.map((i) => i.endpointId),
        inputs.map((i) => i.eventId),
        inputs.map((i) => i.eventType),
        inputs.map((i) => i.instance),
        inputs.map((i) => i.seq),
        inputs.map((i) => i.streamSeq),
      ],
    );
    const byKey = new Map(result.rows.map((row) => {
      const record = toRecord(row);
      return [deliveryKey(record), record];
    }));
    return inputs.map((input) => {
      const record = byKey.get(deliveryKey(input));
      if (record === undefined) throw new Error(`delivery ${input.eventId} → ${input.endpointId} vanished`);
      return record;
    });
  }

  async get(key: DeliveryKey): Promise<DeliveryRecord | undefined> {
    const result = await forTenant(this.pool, key.tenant).query<Record<string, unknown>>(
      `SELECT ${COLUMNS} FROM :SCHEMA.webhook_deliveries WHERE endpoint_id = $1 AND event_id = $2`,
      [key.endpointId, key.eventId],
    );
    const row = result.rows[0];
    return row ? toRecord(row) : undefined;
  }

  /**
   * A first delivery that starts its run without reading the log (see deliverToEndpoint): answers
   * a fresh run at once, and writes the `pending` row only if the first attempt has not been
   * recorded within `visibleAfterMs` (a slow endpoint, a wait behind the instance's earlier
   * events, an open breaker), so the log still shows what waits. `attempted()` cancels that
   * write; the attempt's own record creates the row.
   */
  beginDeferred(input: BeginInput, visibleAfterMs: number, onError: (err: unknown) => void): DeferredBegin {
    const now = new Date();
    const record: DeliveryRecord = {
      endpointId: input.endpointId,
      eventId: input.eventId,
      eventType: input.eventType,
      instance: input.instance,
      seq: input.seq,
      streamSeq: input.streamSeq,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: null,
      lastStatus: null,
      lastError: null,
      createdAt: now,
      updatedAt: now,
      deliveredAt: null,
    };
    const timer = setTimeout(() => {
      this.begin(input).catch(onError);
    }, visibleAfterMs);
    timer.unref();
    return { begun: Promise.resolve({ kind: 'run', record }), attempted: () => clearTimeout(timer) };
  }

  /**
   * Appends the attempt and moves the delivery to `status` in one statement (shared with
   * concurrent ones). Creates the delivery's row if no begin did; a row of a newer run (a later
   * re-send) is left as it is.
   */
  recordAttempt(
    key: AttemptKey,
    attempt: { number: number; at: Date; result: DeliveryResult },
    next: { status: DeliveryStatus; nextAttemptAt: Date | null },
  ): Promise<void> {
    // Keyed by delivery: two runs of one delivery never share a statement (an upsert touches a row once).
    const coalescer = coalescerFor(this.#attempts, key.tenant, () => new Coalescer({ run: (inputs) => this.#recordAll(key.tenant, inputs), keyOf: (i) => deliveryKey(i.key), waitMs: this.options.attemptWaitMs ?? 0 }));
    return coalescer.submit({ key, attempt, next });
  }

  async #recordAll(tenant: string, inputs: AttemptInput[]): Promise<void[]> {
    const column = <T>(pick: (input: AttemptInput) => T): T[] => inputs.map(pick);
    await forTenant(this.pool, tenant).query(
      `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[], $5::timestamptz[], $6::text[], $7::int[], $8::int[],
                              $9::text[], $10::text[], $11::text[], $12::timestamptz[], $13::text[], $14::text[], $15::bigint[])
           AS i (endpoint_id, event_id, stream_seq, attempt, attempted_at, outcome, status, latency_ms, error, response_body, next_status,
                 next_attempt_at, event_type, instance, seq)
       ), attempt AS (
         INSERT INTO :SCHEMA.webhook_delivery_attempts
           (endpoint_id, event_id, stream_seq, attempt, attempted_at, outcome, status, latency_ms, error, response_body)
         SELECT endpoint_id, event_id, stream_seq, attempt, attempted_at, outcome, status, latency_ms, error, response_body FROM input
       )
       INSERT INTO :SCHEMA.webhook_deliveries AS d
         (endpoint_id, event_id, event_type, instance, seq, stream_seq, status, attempts, next_attempt_at, last_status, last_error, delivered_at)
       SELECT endpoint_id, event_id, event_type, instance, seq, stream_seq, next_status, attempt, next_attempt_at, status, error,
              CASE WHEN next_status = 'delivered' THEN now() END
         FROM input
       ON CONFLICT (endpoint_id, event_id) DO UPDATE
          SET stream_seq = EXCLUDED.stream_seq, attempts = EXCLUDED.attempts, status = EXCLUDED.status,
              next_attempt_at = EXCLUDED.next_attempt_at, last_status = EXCLUDED.last_status, last_error = EXCLUDED.last_error,
              updated_at = now(), delivered_at = CASE WHEN EXCLUDED.status = 'delivered' THEN now() ELSE d.delivered_at END
        WHERE d.stream_seq <= EXCLUDED.stream_seq`,
      [
        column((i) => i.key.endpointId),
        column((i) => i.key.eventId),
        column((i) => i.key.streamSeq),
        column((i) => i.attempt.number),
        column((i) => i.attempt.at),
        column((i) => i.attempt.result.outcome),
        column((i) => i.attempt.result.status ?? null),
        column((i) => i.attempt.result.latencyMs),
        column((i) => i.attempt.result.error ?? null),
        column((i) => i.attempt.result.responseBody ?? null),
        column((i) => i.next.status),
        column((i) => i.next.nextAttemptAt),
        column((i) => i.key.eventType),
        column((i) => i.key.instance),
        column((i) => i.key.seq),
      ],
      // Run for nearly every delivery: planned once per connection instead of every time.
      { prepared: true },
    );
    return inputs.map(() => undefined);
  }

  /** Every attempt of a delivery, oldest first (all runs). */
  async attempts(key: DeliveryKey): Promise<AttemptRecord[]> {
    const result = await forTenant(this.pool, key.tenant).query<Record<string, unknown>>(
      `SELECT attempt, attempted_at, outcome, status, latency_ms, error, response_body, stream_seq
         FROM :SCHEMA.webhook_delivery_attempts WHERE endpoint_id = $1 AND event_id = $2 ORDER BY id`,
      [key.endpointId, key.eventId],
    );
    return result.rows.map((row) => ({
      attempt: Number(row['attempt']),
      attemptedAt: row['attempted_at'] as Date,
      outcome: String(row['outcome']),
      status: row['status'] === null ? null : Number(row['status']),
      latencyMs: Number(row['latency_ms']),
      error: textOrNull(row['error']),
      responseBody: textOrNull(row['response_body']),
      streamSeq: Number(row['stream_seq']),
    }));
  }

  /** Newest first; `status` and `since` (updated at or after) narrow it. */
  async list(tenant: string, endpointId: string, options: { status?: DeliveryStatus; since?: Date; limit: number; before?: Date }): Promise<DeliveryRecord[]> {
    const result = await forTenant(this.pool, tenant).query<Record<string, unknown>>(
      `SELECT ${COLUMNS} FROM :SCHEMA.webhook_deliveries
        WHERE endpoint_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::timestamptz IS NULL OR updated_at >= $3)
          AND ($4::timestamptz IS NULL OR updated_at < $4)
        ORDER BY updated_at DESC, event_id LIMIT $5`,
      [endpointId, options.status ?? null, options.since ?? null, options.before ?? null, options.limit],
    );
    return result.rows.map(toRecord);
  }
}

/** The attempt history a dead-letter carries (DlqRecord.attempts). */
export function toDlqAttempts(service: string, attempts: readonly AttemptRecord[], endpointId: string): Attempt[] {
  return attempts.map((a) => ({
    at: a.attemptedAt.toISOString(),
    service,
    delivery: a.attempt,
    error: a.error ?? '',
    detail: {
      endpoint_id: endpointId,
      outcome: a.outcome,
      status: a.status,
      latency_ms: a.latencyMs,
      ...(a.responseBody !== null ? { response_body: a.responseBody } : {}),
    },
  }));
}

function toRecord(row: Record<string, unknown>): DeliveryRecord {
  return {
    endpointId: String(row['endpoint_id']),
    eventId: String(row['event_id']),
    eventType: String(row['event_type']),
    instance: String(row['instance']),
    seq: Number(row['seq']),
    streamSeq: Number(row['stream_seq']),
    status: String(row['status']) as DeliveryStatus,
    attempts: Number(row['attempts']),
    nextAttemptAt: (row['next_attempt_at'] as Date | null) ?? null,
    lastStatus: row['last_status'] === null ? null : Number(row['last_status']),
    lastError: textOrNull(row['last_error']),
    createdAt: row['created_at'] as Date,
    updatedAt: row['updated_at'] as Date,
    deliveredAt: (row['delivered_at'] as Date | null) ?? null,
  };
}

function textOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
