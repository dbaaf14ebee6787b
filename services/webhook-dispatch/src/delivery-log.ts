import { forTenant, type Pool } from '@switchyard/db';
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

/** Where a delivery message stands when it (re)arrives. */
export type Begun =
  | { kind: 'run'; record: DeliveryRecord }
  | { kind: 'delivered' }
  /** An older message of a delivery that was re-sent since: the newer one carries it. */
  | { kind: 'superseded' }
  | { kind: 'exhausted'; record: DeliveryRecord };

const COLUMNS = `endpoint_id, event_id, event_type, instance, seq, stream_seq, status, attempts, next_attempt_at,
  last_status, last_error, created_at, updated_at, delivered_at`;

/**
 * The delivery log in the tenant's schema. It is also where retry progress survives a restart:
 * attempts and the next attempt's time are written after every attempt, before the wait, so a
 * replica that picks the message up again continues the schedule where it stood.
 */
export class DeliveryLog {
  constructor(private readonly pool: Pool) {}

  /**
   * Registers the arrival of a delivery message. A message newer than the log's (a manual
   * re-send) starts a new run; the same message continues its run; an older one is superseded.
   */
  async begin(input: BeginInput): Promise<Begun> {
    const db = forTenant(this.pool, input.tenant);
    const result = await db.query<Record<string, unknown>>(
      `INSERT INTO :SCHEMA.webhook_deliveries (endpoint_id, event_id, event_type, instance, seq, stream_seq)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (endpoint_id, event_id) DO UPDATE
         SET stream_seq = EXCLUDED.stream_seq, status = 'pending', attempts = 0, next_attempt_at = NULL, updated_at = now()
         WHERE webhook_deliveries.stream_seq < EXCLUDED.stream_seq
       RETURNING ${COLUMNS}`,
      [input.endpointId, input.eventId, input.eventType, input.instance, input.seq, input.streamSeq],
    );
    const inserted = result.rows[0];
    const record = inserted ? toRecord(inserted) : await this.get(input);
    if (record === undefined) throw new Error(`delivery ${input.eventId} → ${input.endpointId} vanished`);
    if (record.streamSeq > input.streamSeq) return { kind: 'superseded' };
    if (record.status === 'delivered') return { kind: 'delivered' };
    if (record.status === 'exhausted') return { kind: 'exhausted', record };
    return { kind: 'run', record };
  }

  async get(key: DeliveryKey): Promise<DeliveryRecord | undefined> {
    const result = await forTenant(this.pool, key.tenant).query<Record<string, unknown>>(
      `SELECT ${COLUMNS} FROM :SCHEMA.webhook_deliveries WHERE endpoint_id = $1 AND event_id = $2`,
      [key.endpointId, key.eventId],
    );
    const row = result.rows[0];
    return row ? toRecord(row) : undefined;
  }

  /** Appends the attempt and moves the delivery to `status` in one statement. */
  async recordAttempt(
    key: DeliveryKey & { streamSeq: number },
    attempt: { number: number; at: Date; result: DeliveryResult },
    next: { status: DeliveryStatus; nextAttemptAt: Date | null },
  ): Promise<void> {
    const { result } = attempt;
    await forTenant(this.pool, key.tenant).query(
      `WITH attempt AS (
         INSERT INTO :SCHEMA.webhook_delivery_attempts
           (endpoint_id, event_id, stream_seq, attempt, attempted_at, outcome, status, latency_ms, error, response_body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       )
       UPDATE :SCHEMA.webhook_deliveries
          SET attempts = $4, status = $11, next_attempt_at = $12, last_status = $7, last_error = $9, updated_at = now(),
              delivered_at = CASE WHEN $11 = 'delivered' THEN now() ELSE delivered_at END
        WHERE endpoint_id = $1 AND event_id = $2 AND stream_seq = $3`,
      [
        key.endpointId,
        key.eventId,
        key.streamSeq,
        attempt.number,
        attempt.at,
        result.outcome,
        result.status ?? null,
        result.latencyMs,
        result.error ?? null,
        result.responseBody ?? null,
        next.status,
        next.nextAttemptAt,
      ],
    );
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
