import { randomBytes } from 'node:crypto';
import type { JetStreamClient } from 'nats';
import { forTenant, type Pool } from '@switchyard/db';
import { publishEvent } from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import { eventsSubject, SCHEMA_VERSION, STREAMS, HEADERS } from '@switchyard/schema';
import type { PersistenceMetrics } from './metrics.ts';
import { filterConditions, type EventFilters } from './query-events.ts';
import { EVENT_COLUMNS, toStoredEvent, type StoredEvent } from './stored-event.ts';

/**
 * Replay re-publishes stored events to EVENTS so every EVENTS consumer sees them again —
 * webhook-dispatch delivers them to the endpoints that match today. The envelope keeps its `id`
 * (it is the same event: persistence and media treat it as already done) with `source: "replay"`;
 * the `Nats-Msg-Id` is `<id>:replay:<replay id>` so JetStream's duplicate window does not swallow
 * it, and the header `Switchyard-Replay` carries the replay id.
 */
export const REPLAY_HEADER = HEADERS.replay;

export interface ReplayDeps {
  pool: Pool;
  js: JetStreamClient;
  logger: Logger;
  metrics: PersistenceMetrics;
}

export interface ReplayProgress {
  replayed: number;
  failed: number;
}

/** The last event a replay published: (occurred_at in µs since the epoch, id), its read order. */
export interface ReplayCursor {
  occurredUs: string;
  id: string;
}

export function newReplayId(): string {
  return `rpl_${randomBytes(8).toString('hex')}`;
}

/** Matching events, counted no further than `cap` (a dry run on a huge tenant stays cheap). */
export async function countMatching(pool: Pool, tenant: string, filters: EventFilters, cap: number): Promise<number> {
  const params: unknown[] = [];
  const conditions = filterConditions(filters, params);
  params.push(cap);
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  const result = await forTenant(pool, tenant).query<{ n: string }>(
    `SELECT count(*)::text AS n FROM (SELECT 1 FROM :SCHEMA.events ${where} LIMIT $${params.length}) AS matching`,
    params,
  );
  return Number(result.rows[0]?.n ?? 0);
}

const PAGE = 500;

/**
 * Publishes up to `max` matching events, oldest first (occurred_at, id), one at a time so each
 * instance's events reach EVENTS in their order. A failed publish is counted and skipped.
 */
export async function replayEvents(
  deps: ReplayDeps,
  tenant: string,
  filters: EventFilters,
  options: {
    replayId: string;
    /** Events to publish at most, counting those `from` says were done already. */
    max: number;
    /** Resume: the progress so far and the last event published (a job another replica started). */
    from?: { progress: ReplayProgress; cursor: ReplayCursor | undefined };
    /** After every page: the progress and the cursor to resume after. */
    onProgress?: (progress: ReplayProgress, cursor: ReplayCursor | undefined) => Promise<void>;
    signal?: AbortSignal;
  },
): Promise<ReplayProgress> {
  const progress: ReplayProgress = { ...(options.from?.progress ?? { replayed: 0, failed: 0 }) };
  let after: ReplayCursor | undefined = options.from?.cursor;
  while (progress.replayed + progress.failed < options.max && options.signal?.aborted !== true) {
    const page = await readPage(deps.pool, tenant, filters, after, Math.min(PAGE, options.max - progress.replayed - progress.failed));
    if (page.length === 0) break;
    for (const { event } of page) {
      try {
        await publishReplay(deps.js, event, options.replayId);
        progress.replayed += 1;
        deps.metrics.replayed.inc({ tenant, outcome: 'replayed' });
      } catch (err) {
        progress.failed += 1;
        deps.metrics.replayed.inc({ tenant, outcome: 'failed' });
        deps.logger.warn({ tenant, id: event.id, replay: options.replayId, err }, 'replaying an event failed');
      }
    }
    const last = page.at(-1);
    after = last === undefined ? undefined : { occurredUs: last.occurredUs, id: last.event.id };
    await options.onProgress?.(progress, after);
  }
  return progress;
}

async function readPage(
  pool: Pool,
  tenant: string,
  filters: EventFilters,
  after: ReplayCursor | undefined,
  limit: number,
): Promise<{ event: StoredEvent; occurredUs: string }[]> {
  const params: unknown[] = [];
  const conditions = filterConditions(filters, params);
  if (after !== undefined) {
    params.push(after.occurredUs, after.id);
    conditions.push(`(occurred_at, id) > (timestamptz 'epoch' + $${params.length - 1}::bigint * interval '1 microsecond', $${params.length})`);
  }
  params.push(limit);
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  const result = await forTenant(pool, tenant).query<Record<string, unknown> & { occurred_us: string }>(
    `SELECT ${EVENT_COLUMNS}, (extract(epoch FROM occurred_at) * 1000000)::bigint::text AS occurred_us
       FROM :SCHEMA.events ${where} ORDER BY occurred_at, id LIMIT $${params.length}`,
    params,
  );
  return result.rows.map((row) => ({ event: toStoredEvent(tenant, row), occurredUs: row.occurred_us }));
}

async function publishReplay(js: JetStreamClient, event: StoredEvent, replayId: string): Promise<void> {
  const envelope = {
    id: event.id,
    tenant: event.tenant,
    instance: event.instance,
    type: event.type,
    schema_version: SCHEMA_VERSION,
    occurred_at: event.occurred_at,
    captured_at: event.captured_at,
    ...(event.seq !== null ? { seq: event.seq } : {}),
    source: 'replay',
    ...(event.correlation_id !== null ? { correlation_id: event.correlation_id } : {}),
    data: event.data,
  };
  await publishEvent(js, eventsSubject(event.tenant, event.instance, event.type), new TextEncoder().encode(JSON.stringify(envelope)), {
    msgId: `${event.id}:replay:${replayId}`,
    headers: { [REPLAY_HEADER]: replayId },
    expectStream: STREAMS.events,
  });
}
