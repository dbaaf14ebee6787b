import { forTenant, type Pool } from '@switchyard/db';
import { EVENT_COLUMNS, toStoredEvent, type StoredEvent } from './stored-event.ts';

export async function findEvent(pool: Pool, tenant: string, id: string): Promise<StoredEvent | null> {
  const result = await forTenant(pool, tenant).query(`SELECT ${EVENT_COLUMNS} FROM :SCHEMA.events WHERE id = $1`, [id]);
  const row = result.rows[0];
  return row === undefined ? null : toStoredEvent(tenant, row);
}

export interface ListEventsOptions {
  instance?: string | undefined;
  type?: string | undefined;
  /** 1..1000, checked by the route schema. */
  limit: number;
}

/** Newest first by occurred_at (id breaks ties, so pages are stable). */
export async function listEvents(pool: Pool, tenant: string, options: ListEventsOptions): Promise<StoredEvent[]> {
  // Only the filters given become conditions, so the (instance|type, occurred_at) indexes apply.
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (options.instance !== undefined) {
    params.push(options.instance);
    conditions.push(`instance = $${params.length}`);
  }
  if (options.type !== undefined) {
    params.push(options.type);
    conditions.push(`type = $${params.length}`);
  }
  params.push(options.limit);
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  const result = await forTenant(pool, tenant).query(
    `SELECT ${EVENT_COLUMNS} FROM :SCHEMA.events ${where} ORDER BY occurred_at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  return result.rows.map((row) => toStoredEvent(tenant, row));
}
