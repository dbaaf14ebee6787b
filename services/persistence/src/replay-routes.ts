import { z } from 'zod';
import { forTenant } from '@switchyard/db';
import { HttpError, ok, successResponse, tenantOf, type HttpServer } from '@switchyard/http';
import { LogThrottle } from '@switchyard/runtime';
import { errors, eventFilterFields, tenantQuery, toEventFilters, type EventFilterInput } from './events-routes.ts';
import type { EventFilters } from './query-events.ts';
import { countMatching, newReplayId, replayEvents, type ReplayCursor, type ReplayDeps, type ReplayProgress } from './replay.ts';
import { withTenantSchema } from './tenant-schema.ts';

export interface ReplayLimits {
  /** Safety limit when the request sets none. */
  defaultLimit: number;
  /** The highest safety limit a request may set. */
  maxLimit: number;
  /** Above this many events a replay runs as a job. */
  inlineMax: number;
}

const replayResultSchema = z.object({
  replay_id: z.string().nullable().describe('Set for a real replay; the Switchyard-Replay header of what it published'),
  dry_run: z.boolean(),
  status: z.enum(['succeeded', 'running', 'failed']).describe('`running`: follow it at GET /api/replays/{replay_id}'),
  events_found: z.number().int(),
  events_replayed: z.number().int(),
  events_failed: z.number().int(),
  message: z.string(),
});

const jobSchema = z.object({
  replay_id: z.string(),
  status: z.enum(['running', 'succeeded', 'failed']),
  filters: z.record(z.string(), z.unknown()),
  events_found: z.number().int(),
  events_replayed: z.number().int(),
  events_failed: z.number().int(),
  error: z.string().nullable(),
  created_at: z.string(),
  finished_at: z.string().nullable(),
});

/** A running job whose progress nobody saved for this long is taken over by the replica that finds it. */
export const STALE_JOB_MS = 60_000;

/** How often a replica looks for such jobs. */
const RESUME_SCAN_MS = 30_000;

interface JobRow {
  id: string;
  /** The request's filters as it gave them (the POST body without dry_run and limit). */
  filters: EventFilterInput;
  events_found: number;
  events_replayed: number;
  events_failed: number;
  cursor_occurred_us: string | null;
  cursor_id: string | null;
}

/**
 * Replays that outlive their request. Each saves its progress and the last event it published
 * after every page; that save is also its heartbeat. A job whose replica died (or drained: it
 * hands the job over by backdating it) stops saving, and whichever replica next scans finds it
 * stale, claims it with one conditional UPDATE and resumes it after that event. Events published
 * twice across a takeover are the same message (Nats-Msg-Id `<id>:replay:<job>`), so JetStream's
 * duplicate window drops the second copy.
 */
export class ReplayJobs {
  readonly #running = new Map<string, { done: Promise<void>; abort: AbortController }>();
  readonly #failures = new LogThrottle();
  #scan: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(private readonly deps: ReplayDeps) {}

  async start(tenant: string, filters: EventFilters, input: Record<string, unknown>, found: number): Promise<string> {
    const id = newReplayId();
    const db = forTenant(this.deps.pool, tenant);
    await db.query(`INSERT INTO :SCHEMA.replay_jobs (id, filters, status, events_found) VALUES ($1, $2, 'running', $3)`, [id, JSON.stringify(input), found]);
    this.#launch(tenant, id, filters, found, undefined);
    return id;
  }

  /** Scans the tenants now and then every RESUME_SCAN_MS for stale jobs (see the class comment). */
  resumeEvery(tenants: () => Promise<readonly string[]>, intervalMs = RESUME_SCAN_MS): void {
    const scan = async (): Promise<void> => {
      try {
        await this.resumeStale(await tenants());
      } catch (err) {
        this.deps.logger.warn({ err }, 'looking for replay jobs to resume failed; next scan retries');
      }
      if (!this.#stopped) this.#scan = setTimeout(() => void scan(), intervalMs);
    };
    void scan();
  }

  /** Claims and resumes every running job of `tenants` with no progress saved for `staleMs`; answers how many. */
  async resumeStale(tenants: readonly string[], staleMs = STALE_JOB_MS): Promise<number> {
    let resumed = 0;
    for (const tenant of tenants) {
      if (this.#stopped) break;
      let rows: JobRow[];
      try {
        // The claim: only one replica's UPDATE matches a stale row (the others see it fresh).
        rows = (
          await forTenant(this.deps.pool, tenant).query<JobRow>(
            `UPDATE :SCHEMA.replay_jobs SET updated_at = now()
              WHERE status = 'running' AND updated_at < now() - $1 * interval '1 millisecond'
              RETURNING id, filters, events_found, events_replayed, events_failed, cursor_occurred_us, cursor_id`,
            [staleMs],
          )
        ).rows;
      } catch (err) {
        this.#failures.warn(this.deps.logger, tenant, { tenant, err }, 'looking for replay jobs to resume failed', 'looking for replay jobs to resume kept failing');
        continue;
      }
      for (const row of rows) {
        if (this.#running.has(`${tenant}/${row.id}`)) continue;
        const from = {
          progress: { replayed: row.events_replayed, failed: row.events_failed },
          cursor: row.cursor_occurred_us !== null && row.cursor_id !== null ? { occurredUs: row.cursor_occurred_us, id: row.cursor_id } : undefined,
        };
        let filters: EventFilters;
        try {
          filters = toEventFilters(row.filters);
        } catch (err) {
          await this.#save(tenant, row.id, from.progress, from.cursor, 'failed', `its filters are no longer valid: ${err instanceof Error ? err.message : String(err)}`);
          continue;
        }
        this.deps.logger.info({ tenant, replay: row.id, ...from.progress }, 'resuming a replay job another replica left');
        this.#launch(tenant, row.id, filters, row.events_found, from);
        resumed++;
      }
    }
    return resumed;
  }

  #launch(tenant: string, id: string, filters: EventFilters, found: number, from: { progress: ReplayProgress; cursor: ReplayCursor | undefined } | undefined): void {
    const key = `${tenant}/${id}`;
    const abort = new AbortController();
    const done = this.#run(tenant, id, filters, found, from, abort.signal).finally(() => this.#running.delete(key));
    this.#running.set(key, { done, abort });
  }

  async #run(
    tenant: string,
    id: string,
    filters: EventFilters,
    found: number,
    from: { progress: ReplayProgress; cursor: ReplayCursor | undefined } | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    let cursor = from?.cursor;
    let progress = from?.progress ?? { replayed: 0, failed: 0 };
    try {
      const result = await replayEvents(this.deps, tenant, filters, {
        replayId: id,
        max: found,
        ...(from !== undefined ? { from } : {}),
        signal,
        onProgress: async (p, c) => {
          progress = p;
          cursor = c;
          await this.#save(tenant, id, p, c, 'running', null);
        },
      });
      if (signal.aborted) {
        // Drained: backdated, so the next scan of any replica resumes it after `cursor`.
        await this.#save(tenant, id, result, cursor, 'running', null, true);
        this.deps.logger.info({ tenant, replay: id, ...result }, 'replay job handed over: another replica resumes it');
      } else await this.#save(tenant, id, result, cursor, 'succeeded', null);
    } catch (err) {
      this.deps.logger.error({ tenant, replay: id, err }, 'replay job failed');
      await this.#save(tenant, id, progress, cursor, 'failed', err instanceof Error ? err.message : String(err)).catch((saveErr: unknown) =>
        this.deps.logger.error({ tenant, replay: id, err: saveErr }, 'recording a failed replay job failed; another replica will find it running and resume it'),
      );
    }
  }

  async #save(tenant: string, id: string, p: ReplayProgress, cursor: ReplayCursor | undefined, status: 'running' | 'succeeded' | 'failed', error: string | null, handOver = false): Promise<void> {
    await forTenant(this.deps.pool, tenant).query(
      `UPDATE :SCHEMA.replay_jobs SET events_replayed = $2, events_failed = $3, status = $4, error = $5,
              cursor_occurred_us = $6, cursor_id = $7,
              updated_at = CASE WHEN $8 THEN '-infinity'::timestamptz ELSE now() END,
              finished_at = CASE WHEN $4 = 'running' THEN NULL ELSE now() END
        WHERE id = $1`,
      [id, p.replayed, p.failed, status, error, cursor?.occurredUs ?? null, cursor?.id ?? null, handOver],
    );
  }

  /** Stops scanning and every job in flight; each saves where it stopped and is left for another replica. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#scan);
    const all = [...this.#running.values()];
    for (const job of all) job.abort.abort();
    await Promise.allSettled(all.map((job) => job.done));
  }
}

/** POST /api/events/replay (admin) and GET /api/replays/:id. */
export function registerReplayRoutes(http: HttpServer, deps: ReplayDeps, jobs: ReplayJobs, limits: ReplayLimits): void {
  http.post(
    '/api/events/replay',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Re-publish stored events to EVENTS so webhooks receive them again',
        description:
          'At least one filter is required. The events keep their id and carry `source: "replay"`. More matching events than `limit` ' +
          '(default from PERSISTENCE_REPLAY_LIMIT) is refused with REPLAY_LIMIT_EXCEEDED; a large replay answers 202 and runs as a job.',
        tags: ['events'],
        querystring: z.strictObject(tenantQuery),
        body: z.strictObject({
          ...eventFilterFields,
          dry_run: z.boolean().default(false).describe('Only count what would be replayed'),
          limit: z.number().int().min(1).optional().describe('Safety limit: refuse if more events match'),
        }),
        response: { 200: successResponse(replayResultSchema), 202: successResponse(replayResultSchema), ...errors, 422: errors[400] },
      },
    },
    async (request, reply) => {
      const tenant = tenantOf(request);
      const { dry_run: dryRun, limit: asked, ...input } = request.body;
      if (input.instance === undefined && input.type === undefined && input.since === undefined && input.until === undefined) {
        throw new HttpError(400, 'FILTER_REQUIRED', 'name at least one filter: instance, type, since or until');
      }
      if (asked !== undefined && asked > limits.maxLimit) {
        throw new HttpError(400, 'VALIDATION_FAILED', `limit: at most ${limits.maxLimit}`);
      }
      const limit = asked ?? limits.defaultLimit;
      const filters = toEventFilters(input);
      const found = await withTenantSchema(tenant, () => countMatching(deps.pool, tenant, filters, limit + 1));
      if (found > limit) {
        throw new HttpError(422, 'REPLAY_LIMIT_EXCEEDED', `more than ${limit} events match; narrow the filters or raise limit (at most ${limits.maxLimit})`);
      }
      if (dryRun) {
        return ok({ replay_id: null, dry_run: true, status: 'succeeded' as const, events_found: found, events_replayed: 0, events_failed: 0, message: `Dry run: would replay ${found} events` });
      }
      if (found > limits.inlineMax) {
        const id = await jobs.start(tenant, filters, input, found);
        void reply.code(202);
        return ok({ replay_id: id, dry_run: false, status: 'running' as const, events_found: found, events_replayed: 0, events_failed: 0, message: `Replaying ${found} events as job ${id}` });
      }
      const replayId = newReplayId();
      const result = await replayEvents(deps, tenant, filters, { replayId, max: found });
      return ok({
        replay_id: replayId,
        dry_run: false,
        status: result.failed === 0 ? ('succeeded' as const) : ('failed' as const),
        events_found: found,
        events_replayed: result.replayed,
        events_failed: result.failed,
        message: result.failed === 0 ? `Replayed ${result.replayed} events` : `Replayed ${result.replayed} events, ${result.failed} failed`,
      });
    },
  );

  http.get(
    '/api/replays/:id',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Progress of a replay running as a job',
        tags: ['events'],
        params: z.object({ id: z.string().regex(/^rpl_[0-9a-f]{16}$/) }),
        querystring: z.strictObject(tenantQuery),
        response: { 200: successResponse(jobSchema), ...errors },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const result = await withTenantSchema(tenant, () =>
        forTenant(deps.pool, tenant).query<{
          id: string;
          status: 'running' | 'succeeded' | 'failed';
          filters: Record<string, unknown>;
          events_found: number;
          events_replayed: number;
          events_failed: number;
          error: string | null;
          created_at: Date;
          finished_at: Date | null;
        }>(`SELECT * FROM :SCHEMA.replay_jobs WHERE id = $1`, [request.params.id]),
      );
      const job = result.rows[0];
      if (job === undefined) throw new HttpError(404, 'NOT_FOUND', `no replay ${request.params.id}`);
      return ok({
        replay_id: job.id,
        status: job.status,
        filters: job.filters,
        events_found: job.events_found,
        events_replayed: job.events_replayed,
        events_failed: job.events_failed,
        error: job.error,
        created_at: job.created_at.toISOString(),
        finished_at: job.finished_at?.toISOString() ?? null,
      });
    },
  );
}
