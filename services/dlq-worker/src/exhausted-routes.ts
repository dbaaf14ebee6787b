import { getExhausted, listExhausted, setExhaustedStatus, TenantNotFoundError, type Pool } from '@switchyard/db';
import { errorResponseSchema, HttpError, ok, successResponse, type HttpServer } from '@switchyard/http';
import { dlqReasonSchema } from '@switchyard/schema';
import type { JetStreamClient } from 'nats';
import { z } from 'zod';
import { exhaustedScope } from './exhausted-scope.ts';
import { exhaustedDetailSchema, exhaustedStatusSchema, exhaustedSummarySchema, toDetail, toSummary } from './exhausted-view.ts';
import { requeueExhausted } from './requeue.ts';

// Operator keys name their tenant (or `_system`) with X-Switchyard-Tenant or ?tenant=.
const tenantQuery = { tenant: z.string().optional().describe('Operator keys only: the tenant to act for, or _system (or X-Switchyard-Tenant)') };
const idParams = z.object({ id: z.string().regex(/^\d{1,19}$/, 'must be a row id').describe('Row id of the exhausted event') });
const errors = {
  400: errorResponseSchema,
  401: errorResponseSchema,
  403: errorResponseSchema,
  404: errorResponseSchema,
  409: errorResponseSchema,
};

export interface ExhaustedRoutesDeps {
  pool: Pool;
  js: JetStreamClient;
}

/**
 * The SRE surface over exhausted events. Admin access: an operator key for any tenant, a tenant
 * admin key for its own. Ids are per-table, so another tenant's id simply is not found.
 */
export function registerExhaustedRoutes(http: HttpServer, deps: ExhaustedRoutesDeps): void {
  const { pool, js } = deps;

  http.get(
    '/api/exhausted',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'List exhausted events, newest first',
        tags: ['exhausted'],
        querystring: z.object({
          ...tenantQuery,
          status: exhaustedStatusSchema.optional(),
          reason: dlqReasonSchema.optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(50).describe('At most this many rows (1-1000)'),
          before: z.string().regex(/^\d{1,19}$/).optional().describe('Only rows with a smaller id (the last id of the previous page)'),
        }),
        response: { 200: successResponse(z.object({ exhausted: z.array(exhaustedSummarySchema), limit: z.number().int() })), ...errors },
      },
    },
    async (request) => {
      const tenant = exhaustedScope(request);
      const { status, reason, limit, before } = request.query;
      const rows = await inTenant(tenant, () =>
        listExhausted(pool, tenant, { limit, ...(status ? { status } : {}), ...(reason ? { reason } : {}), ...(before ? { beforeId: before } : {}) }),
      );
      return ok({ exhausted: rows.map(toSummary), limit });
    },
  );

  http.get(
    '/api/exhausted/:id',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Get one exhausted event with its payload and attempts',
        tags: ['exhausted'],
        params: idParams,
        querystring: z.object(tenantQuery),
        response: { 200: successResponse(exhaustedDetailSchema), ...errors },
      },
    },
    async (request) => {
      const tenant = exhaustedScope(request);
      const row = await inTenant(tenant, () => getExhausted(pool, tenant, request.params.id));
      if (row === null) throw notFound(request.params.id);
      return ok(toDetail(row));
    },
  );

  http.post(
    '/api/exhausted/:id/requeue',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Publish the raw payload again to its source subject and mark the row requeued',
        description: 'Only open rows. Downstream consumers are idempotent by event id, so a duplicate requeue is harmless.',
        tags: ['exhausted'],
        params: idParams,
        querystring: z.object(tenantQuery),
        response: {
          200: successResponse(
            z.object({ id: z.string(), status: z.literal('requeued'), subject: z.string(), msg_id: z.string(), stream: z.string(), seq: z.number().int() }),
          ),
          ...errors,
          422: errorResponseSchema,
          503: errorResponseSchema,
        },
      },
    },
    async (request) => {
      const tenant = exhaustedScope(request);
      const { id } = request.params;
      const result = await inTenant(tenant, () =>
        requeueExhausted(pool, js, tenant, id).catch((err: unknown) => {
          if (err instanceof TenantNotFoundError || err instanceof HttpError) throw err;
          // Nothing was marked: the row stays open and the requeue can simply be tried again.
          throw new HttpError(503, 'REQUEUE_FAILED', 'could not publish the payload to its source subject; the row stays open', { cause: err });
        }),
      );
      switch (result.kind) {
        case 'not-found':
          throw notFound(id);
        case 'conflict':
          throw new HttpError(409, 'CONFLICT', `exhausted event ${id} is ${result.status}; only open rows can be requeued`);
        case 'refused':
          throw new HttpError(422, 'REQUEUE_REFUSED', result.reason);
        case 'requeued':
          return ok({ id, status: 'requeued' as const, subject: result.subject, msg_id: result.msgId, stream: result.published.stream, seq: result.published.seq });
      }
    },
  );

  http.post(
    '/api/exhausted/:id/discard',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Close an open exhausted event without requeueing it',
        tags: ['exhausted'],
        params: idParams,
        querystring: z.object(tenantQuery),
        response: { 200: successResponse(z.object({ id: z.string(), status: z.literal('discarded') })), ...errors },
      },
    },
    async (request) => {
      const tenant = exhaustedScope(request);
      const { id } = request.params;
      const discarded = await inTenant(tenant, () => setExhaustedStatus(pool, tenant, id, 'discarded'));
      if (discarded) return ok({ id, status: 'discarded' as const });
      const row = await getExhausted(pool, tenant, id);
      if (row === null) throw notFound(id);
      throw new HttpError(409, 'CONFLICT', `exhausted event ${id} is ${row.status}; only open rows can be discarded`);
    },
  );
}

function notFound(id: string): HttpError {
  return new HttpError(404, 'NOT_FOUND', `no exhausted event ${id}`);
}

/** An operator naming a tenant that has no schema gets 404, not a 500. */
async function inTenant<T>(tenant: string, query: () => Promise<T>): Promise<T> {
  try {
    return await query();
  } catch (err) {
    if (err instanceof TenantNotFoundError) throw new HttpError(404, 'TENANT_NOT_FOUND', `tenant ${tenant} is not provisioned`, { cause: err });
    throw err;
  }
}
