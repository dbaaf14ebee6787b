import { z } from 'zod';
import { forTenant } from '@switchyard/db';
import { HttpError, ok, successResponse, tenantOf, type HttpServer } from '@switchyard/http';
import { errors, eventFilterFields, tenantQuery, toEventFilters } from './events-routes.ts';
import type { EventFilters } from './query-events.ts';
import { countMatching, newReplayId, replayEvents, type ReplayDeps } from './replay.ts';
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

/** Replays that outlive their request: tracked so shutdown can stop them and mark them failed. */
export class ReplayJobs {
  readonly #running = new Map<string, { done: Promise<void>; abort: AbortController }>();
  constructor(private readonly deps: ReplayDeps) {}

  async start(tenant: string, filters: EventFilters, input: Record<string, unknown>, found: number): Promise<string> {
    const id = newReplayId();
    const db = forTenant(this.deps.pool, tenant);
    await db.query(`INSERT INTO :SCHEMA.replay_jobs (id, filters, status, events_found) VALUES ($1, $2, 'running', $3)`, [id, JSON.stringify(input), found]);
    const abort = new AbortController();
    const done = this.#run(tenant, id, filters, found, abort.signal).finally(() => this.#running.delete(id));
    this.#running.set(id, { done, abort });
    return id;
  }

  async #run(tenant: string, id: string, filters: EventFilters, found: number, signal: AbortSignal): Promise<void> {
    const db = forTenant(this.deps.pool, tenant);
    const save = (p: { replayed: number; failed: number }, status: string, error: string | null) =>
      db.query(
        `UPDATE :SCHEMA.replay_jobs SET events_replayed = $2, events_failed = $3, status = $4, error = $5, updated_at = now(),
                finished_at = CASE WHEN $4 = 'running' THEN NULL ELSE now() END WHERE id = $1`,
        [id, p.replayed, p.failed, status, error],
      );
    try {
      const result = await replayEvents(this.deps, tenant, filters, {
        replayId: id,
        max: found,
        signal,
        onProgress: async (p) => {
          await save(p, 'running', null);
        },
      });
      await save(result, signal.aborted ? 'failed' : 'succeeded', signal.aborted ? 'interrupted by shutdown' : null);
    } catch (err) {
      this.deps.logger.error({ tenant, replay: id, err }, 'replay job failed');
      await save({ replayed: 0, failed: 0 }, 'failed', err instanceof Error ? err.message : String(err)).catch(() => undefined);
    }
  }

  /** Stops every job in flight; each records where it stopped. */
  async stop(): Promise<void> {
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
