import { z } from 'zod';
import type { Pool } from '@switchyard/db';
import { errorResponseSchema, HttpError, ok, successResponse, tenantOf, type HttpServer } from '@switchyard/http';
import { EVENT_TYPES, eventIdSchema, instanceIdSchema } from '@switchyard/schema';
import { classifyPostgresFailure } from './postgres-failure.ts';
import { findEvent, listEvents } from './query-events.ts';
import { storedEventSchema } from './stored-event.ts';

// Operator keys name their tenant with X-Switchyard-Tenant or ?tenant=; declared so validation keeps it.
const tenantQuery = { tenant: z.string().optional().describe('Operator keys only: the tenant to act for (or X-Switchyard-Tenant)') };
const errors = { 400: errorResponseSchema, 401: errorResponseSchema, 403: errorResponseSchema, 404: errorResponseSchema };

/**
 * The read side of persistence. The tenant is always the key's own (or the one an operator
 * names), never a path or body field, and every query runs through the tenant's schema handle:
 * an id that exists only in another tenant's schema is simply not found.
 */
export function registerEventRoutes(http: HttpServer, pool: Pool): void {
  http.get(
    '/api/events/:id',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'Get one persisted event by id',
        tags: ['events'],
        params: z.object({ id: eventIdSchema }),
        querystring: z.object(tenantQuery),
        response: { 200: successResponse(storedEventSchema), ...errors },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const event = await withTenantSchema(tenant, () => findEvent(pool, tenant, request.params.id));
      if (event === null) throw new HttpError(404, 'NOT_FOUND', `no event ${request.params.id}`);
      return ok(event);
    },
  );

  http.get(
    '/api/events',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'List persisted events, newest first by occurred_at',
        tags: ['events'],
        querystring: z.object({
          ...tenantQuery,
          instance: instanceIdSchema.optional().describe('Only events of this WhatsApp instance'),
          type: z.enum(EVENT_TYPES).optional().describe('Only events of this type'),
          limit: z.coerce.number().int().min(1).max(1000).default(100).describe('At most this many events (1-1000)'),
        }),
        response: {
          200: successResponse(z.object({ events: z.array(storedEventSchema), limit: z.number().int() })),
          ...errors,
        },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const { instance, type, limit } = request.query;
      const events = await withTenantSchema(tenant, () => listEvents(pool, tenant, { instance, type, limit }));
      return ok({ events, limit });
    },
  );
}

/** An operator naming a tenant that has no schema gets 404, not a 500. */
async function withTenantSchema<T>(tenant: string, query: () => Promise<T>): Promise<T> {
  try {
    return await query();
  } catch (err) {
    if (classifyPostgresFailure(err) === 'tenant-missing') {
      throw new HttpError(404, 'TENANT_NOT_FOUND', `tenant ${tenant} is not provisioned`, { cause: err });
    }
    throw err;
  }
}
