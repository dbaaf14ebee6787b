import { forTenant, type Pool } from '@switchyard/db';
import { EVENT_COLUMNS, toStoredEvent, type StoredEvent } from './stored-event.ts';

/**
 * By id through `event_ids`, which knows the event's occurred_at: the events lookup then names
 * the partition key and touches one partition.
 */
export async function findEvent(pool: Pool, tenant: string, id: string): Promise<StoredEvent | null> {
  const result = await forTenant(pool, tenant).query(
    `SELECT ${EVENT_COLUMNS} FROM :SCHEMA.events e
      WHERE e.id = $1 AND e.occurred_at = (SELECT occurred_at FROM :SCHEMA.event_ids WHERE id = $1)`,
    [id],
  );
  const row = result.rows[0];
  return row === undefined ? null : toStoredEvent(tenant, row);
}

export interface EventFilters {
  instance?: string | undefined;
  /** Exact types (a glob is expanded to the known types it matches before it gets here). */
  types?: readonly string[] | undefined;
  since?: string | undefined;
  until?: string | undefined;
}

/** Where the previous page ended: keyset pagination on the API's order (occurred_at, id). */
export interface EventCursor {
  /** occurred_at in microseconds since the epoch (Postgres precision; a JS Date would round it). */
  occurredUs: string;
  id: string;
}

export interface ListEventsOptions extends EventFilters {
  /** 1..1000, checked by the route schema. */
  limit: number;
  cursor?: EventCursor | undefined;
  offset?: number | undefined;
}

export interface EventPage {
  events: StoredEvent[];
  /** Set when there may be more: pass it back as `cursor`. */
  next: EventCursor | null;
}

/** The WHERE clause of a filter, numbered from `params.length + 1`. Shared with replay. */
export function filterConditions(filters: EventFilters, params: unknown[]): string[] {
  const conditions: string[] = [];
  const add = (sql: (n: string) => string, value: unknown) => {
    params.push(value);
    conditions.push(sql(`$${params.length}`));
  };
  if (filters.instance !== undefined) add((n) => `instance = ${n}`, filters.instance);
  if (filters.types !== undefined) {
    if (filters.types.length === 1) add((n) => `type = ${n}`, filters.types[0]);
    else add((n) => `type = ANY(${n}::text[])`, filters.types);
  }
  if (filters.since !== undefined) add((n) => `occurred_at >= ${n}::timestamptz`, filters.since);
  if (filters.until !== undefined) add((n) => `occurred_at <= ${n}::timestamptz`, filters.until);
  return conditions;
}

/**
 * Newest first by occurred_at (id breaks ties, so pages are stable). Only the filters given
 * become conditions, so the (instance|type, occurred_at, id) indexes serve the order and the
 * LIMIT stops the scan early; since/until prune whole partitions.
 */
export async function listEvents(pool: Pool, tenant: string, options: ListEventsOptions): Promise<EventPage> {
  const params: unknown[] = [];
  const conditions = filterConditions(options, params);
  if (options.cursor !== undefined) {
    params.push(options.cursor.occurredUs, options.cursor.id);
    const us = `$${params.length - 1}`;
    conditions.push(`(occurred_at, id) < (timestamptz 'epoch' + ${us}::bigint * interval '1 microsecond', $${params.length})`);
  }
  // One more than asked tells whether a next page exists without a count over the table.
  params.push(options.limit + 1);
  const limit = `$${params.length}`;
  let offset = '';
  if (options.offset !== undefined && options.offset > 0) {
    params.push(options.offset);
    offset = ` OFFSET $${params.length}`;
  }
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  const result = await forTenant(pool, tenant).query<Record<string, unknown> & { occurred_us: string }>(
    `SELECT ${EVENT_COLUMNS}, (extract(epoch FROM occurred_at) * 1000000)::bigint::text AS occurred_us
       FROM :SCHEMA.events ${where}
      ORDER BY occurred_at DESC, id DESC
      LIMIT ${limit}${offset}`,
    params,
  );
  const rows = result.rows.slice(0, options.limit);
  const last = rows.at(-1);
  const next = result.rows.length > options.limit && last !== undefined ? { occurredUs: last.occurred_us, id: String(last['id']) } : null;
  return { events: rows.map((row) => toStoredEvent(tenant, row)), next };
}

/** Opaque to clients: base64url of the position, so its shape can change without breaking them. */
export function encodeCursor(cursor: EventCursor): string {
  return Buffer.from(`${cursor.occurredUs}|${cursor.id}`, 'utf8').toString('base64url');
}

export function decodeCursor(text: string): EventCursor | null {
  const decoded = Buffer.from(text, 'base64url').toString('utf8');
  const bar = decoded.indexOf('|');
  if (bar <= 0) return null;
  const occurredUs = decoded.slice(0, bar);
  const id = decoded.slice(bar + 1);
  if (!/^-?\d{1,19}$/.test(occurredUs) || id === '') return null;
  return { occurredUs, id };
}
