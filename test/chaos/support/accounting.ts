import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CONTROL_SCHEMA, quoteIdent, tenantSchemaName, type Pool } from '@switchyard/db';
import type { CountingReceiver } from '../../../bench/fleet/counting-receiver.ts';

export interface Expected {
  id: string;
  tenant: string;
  sentAt: number;
  /** The message carries media of this decrypted size: it must also be stored and announced. */
  mediaSize?: number;
}

/** Where the media service's objects are: `<root>/<tenant>/phone-1/<event id>` on the S3 server's disk. */
export interface MediaStore {
  root: string;
}

export interface Exhaustion {
  eventId: string;
  service: string;
  reason: string;
  error: string;
  at: number;
}

export interface Accounting {
  sent: number;
  persisted: number;
  delivered: number;
  exhausted: number;
  /** Messages that carried media, and those whose media is stored, announced and persisted as media.stored. */
  mediaSent: number;
  mediaStored: number;
  /** Ids with a leg unaccounted for: neither persisted nor exhausted, or neither delivered nor exhausted. */
  missing: string[];
  /** Ids stored in more than one tenant schema, or in the wrong one. */
  duplicated: string[];
  misplaced: string[];
  /** Good events that were dead-lettered all the same (e.g. a delivery limit hit during an outage). */
  unexpectedExhausted: string[];
  /** Webhook deliveries beyond the first (at-least-once redeliveries; not a fault). */
  redeliveries: number;
  exhaustedReasons: Record<string, number>;
  /** The first error text seen for each service:reason, so an unexpected exhaustion explains itself. */
  exhaustedErrors: Record<string, string>;
  /** Latest completion (row stored, webhook received or exhausted) of each id, ms. */
  completedAt: Map<string, number>;
  /** Why each missing id is missing, for the report. */
  missingDetail: string[];
}

/** Poison events are published with `-poison-` in their id: they are meant to be exhausted. */
export function isPoisonId(id: string): boolean {
  return id.includes('-poison-');
}

/** Ids of a tenant schema's events table that start with `prefix`, with when they were stored. */
async function storedRows(
  pool: Pool,
  tenant: string,
  prefix: string,
): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ id: string; at: Date }>(
    `SELECT id, stored_at AS at FROM ${quoteIdent(tenantSchemaName(tenant))}.events WHERE id LIKE $1`,
    [`${prefix}%`],
  );
  return new Map(rows.map((r) => [r.id, r.at.getTime()]));
}

async function exhaustedRows(pool: Pool, schema: string, prefix: string): Promise<Exhaustion[]> {
  const { rows } = await pool.query<{
    event_id: string;
    service: string;
    reason: string;
    error: string;
    at: Date;
  }>(
    `SELECT event_id, service, reason, error, exhausted_at AS at FROM ${quoteIdent(schema)}.exhausted_events WHERE event_id LIKE $1`,
    [`${prefix}%`],
  );
  return rows.map((r) => ({
    eventId: r.event_id,
    service: r.service,
    reason: r.reason,
    error: r.error,
    at: r.at.getTime(),
  }));
}

/**
 * Per media job of the tenant whose source event starts with `prefix`: when its job was stored,
 * if it was and its `media.stored` event is persisted exactly once (a job stored but never
 * announced, or announced twice, does not count).
 */
async function storedMedia(pool: Pool, tenant: string, prefix: string): Promise<Map<string, number>> {
  const schema = quoteIdent(tenantSchemaName(tenant));
  const { rows } = await pool.query<{ id: string; at: Date }>(
    `SELECT j.event_id AS id, j.stored_at AS at
       FROM ${schema}.media_jobs j
      WHERE j.event_id LIKE $1 AND j.status = 'stored'
        AND (SELECT count(*) FROM ${schema}.events e
              WHERE e.type = 'media.stored' AND e.data->>'source_event_id' = j.event_id) = 1`,
    [`${prefix}%`],
  );
  return new Map(rows.map((r) => [r.id, r.at.getTime()]));
}

/** The decrypted object's size on the S3 server's disk, or undefined when it is not there. */
async function objectSize(store: MediaStore, tenant: string, id: string): Promise<number | undefined> {
  try {
    return (await stat(join(store.root, tenant, 'phone-1', id))).size;
  } catch {
    return undefined;
  }
}

/**
 * Event by event: every expected id must be persisted exactly once in its own tenant's schema
 * (or exhausted by the router or persistence, with a reason) and received by its tenant's
 * endpoint at least once (or exhausted by the router or webhook-dispatch). A message carrying
 * media must also have its media stored (the object in S3 at its size, the job stored, one
 * `media.stored` persisted) or be exhausted by the router or media. Anything else is missing.
 * `tenants` are every tenant the scenario used, so a row in the wrong schema is seen.
 */
export async function account(
  pool: Pool,
  receiver: CountingReceiver,
  tenants: readonly string[],
  expected: readonly Expected[],
  prefix: string,
  media: MediaStore,
  mayExhaust: (id: string) => boolean = isPoisonId,
): Promise<Accounting> {
  const stored = new Map<string, Map<string, number>>();
  for (const tenant of tenants) stored.set(tenant, await storedRows(pool, tenant, prefix));
  const mediaStored = new Map<string, Map<string, number>>();
  if (expected.some((e) => e.mediaSize !== undefined)) {
    for (const tenant of tenants) mediaStored.set(tenant, await storedMedia(pool, tenant, prefix));
  }
  const exhausted: Exhaustion[] = [];
  for (const tenant of tenants)
    exhausted.push(...(await exhaustedRows(pool, tenantSchemaName(tenant), prefix)));
  // The system tenant's table: an event attributed there has left its tenant, which is a fault too.
  exhausted.push(
    ...(await exhaustedRows(pool, CONTROL_SCHEMA, prefix)).map((e) => ({
      ...e,
      service: `${e.service} (_system)`,
    })),
  );
  const exhaustedById = new Map<string, Exhaustion[]>();
  for (const e of exhausted)
    exhaustedById.set(e.eventId, [...(exhaustedById.get(e.eventId) ?? []), e]);

  const result: Accounting = {
    sent: expected.length,
    persisted: 0,
    delivered: 0,
    exhausted: 0,
    mediaSent: 0,
    mediaStored: 0,
    missing: [],
    duplicated: [],
    misplaced: [],
    redeliveries: 0,
    unexpectedExhausted: [],
    exhaustedReasons: {},
    exhaustedErrors: {},
    completedAt: new Map(),
    missingDetail: [],
  };
  for (const event of expected) {
    const homes = tenants.filter((t) => stored.get(t)?.has(event.id));
    const storedAt = stored.get(event.tenant)?.get(event.id);
    if (homes.length > 1) result.duplicated.push(event.id);
    if (homes.some((t) => t !== event.tenant)) result.misplaced.push(event.id);
    const receipt = event.id.length > 0 ? receiver.receipts.get(event.id) : undefined;
    const deliveredHere = receipt !== undefined && receipt.path === `/hooks/${event.tenant}`;
    const ends = exhaustedById.get(event.id) ?? [];
    const exhaustedBy = (...services: string[]) => ends.find((e) => services.includes(e.service));
    const persistLeg = storedAt ?? exhaustedBy('router', 'persistence')?.at;
    const deliverLeg = deliveredHere
      ? receipt.firstAt
      : exhaustedBy('router', 'webhook-dispatch')?.at;
    let mediaLeg: number | undefined = 0;
    let mediaNote = '';
    if (event.mediaSize !== undefined) {
      result.mediaSent++;
      const jobAt = mediaStored.get(event.tenant)?.get(event.id);
      const size = jobAt === undefined ? undefined : await objectSize(media, event.tenant, event.id);
      if (jobAt !== undefined && size === event.mediaSize) {
        result.mediaStored++;
        mediaLeg = jobAt;
      } else {
        mediaLeg = exhaustedBy('router', 'media')?.at;
        mediaNote = jobAt === undefined ? ', media not stored and announced' : `, media object ${size === undefined ? 'absent' : `of ${size} bytes, not ${event.mediaSize}`}`;
      }
    }
    if (storedAt !== undefined) result.persisted++;
    if (deliveredHere) {
      result.delivered++;
      result.redeliveries += receipt.count - 1;
    }
    if (ends.length > 0) {
      result.exhausted++;
      if (!mayExhaust(event.id)) result.unexpectedExhausted.push(event.id);
      for (const e of ends) {
        const key = `${e.service}:${e.reason}`;
        result.exhaustedReasons[key] = (result.exhaustedReasons[key] ?? 0) + 1;
        result.exhaustedErrors[key] ??= e.error.slice(0, 300);
      }
    }
    if (persistLeg === undefined || deliverLeg === undefined || mediaLeg === undefined) {
      result.missing.push(event.id);
      result.missingDetail.push(
        `${event.id} (tenant ${event.tenant}): ${storedAt === undefined ? 'not persisted' : 'persisted'}, ` +
          `${deliveredHere ? 'delivered' : receipt ? `delivered to the wrong path ${receipt.path}` : 'not delivered'}${mediaNote}` +
          `${ends.length ? `, exhausted by ${ends.map((e) => `${e.service} ${e.reason}: ${e.error}`).join('; ')}` : ', not exhausted'}`,
      );
    } else {
      result.completedAt.set(event.id, Math.max(persistLeg, deliverLeg, mediaLeg));
    }
  }
  return result;
}
