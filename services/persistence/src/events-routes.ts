import { z } from 'zod';
import type { Pool } from '@switchyard/db';
import { errorResponses, HttpError, type HttpServer, ok, operatorTenantQuery, successResponse, tenantOf } from '@switchyard/http';
import { eventIdSchema, instanceIdSchema } from '@switchyard/schema';
import { decodeCursor, encodeCursor, listEvents, findEvent, type EventFilters } from './query-events.ts';
import { storedEventSchema } from './stored-event.ts';
import { withTenantSchema } from './tenant-schema.ts';
import { expandTypeFilter } from './type-filter.ts';

export const tenantQuery = operatorTenantQuery;
export const errors = errorResponses(400, 401, 403, 404);

const rfc3339 = z.iso.datetime({ offset: true });

/** The filters GET /api/events and POST /api/events/replay share. */
export const eventFilterFields = {
  instance: instanceIdSchema.optional().describe('Only events of this WhatsApp instance'),
  type: z
    .string()
    .max(1000)
    .optional()
    .describe('Only events of this type; also a glob (`message.*`) or a comma-separated list'),
  since: rfc3339.optional().describe('Only events that occurred at or after this time (RFC 3339)'),
  until: rfc3339.optional().describe('Only events that occurred at or before this time (RFC 3339)'),
};

export interface EventFilterInput {
  instance?: string | undefined;
  type?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
}

/** Checks what the schema cannot express and turns the API's filters into query filters. */
export function toEventFilters(input: EventFilterInput): EventFilters {
  let types: string[] | undefined;
  if (input.type !== undefined) {
    const expanded = expandTypeFilter(input.type);
    if (expanded === null) throw new HttpError(400, 'VALIDATION_FAILED', `type: ${JSON.stringify(input.type)} matches no known event type`);
    types = expanded;
  }
  if (input.since !== undefined && input.until !== undefined && Date.parse(input.since) > Date.parse(input.until)) {
    throw new HttpError(400, 'INVALID_TIME_RANGE', 'since must not be after until');
  }
  return { instance: input.instance, types, since: input.since, until: input.until };
}

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
        querystring: z.strictObject(tenantQuery),
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
        description:
          'Page with `cursor` (the `next_cursor` of the previous page; stable while events arrive) or `offset`. Unknown parameters are refused.',
        tags: ['events'],
        querystring: z.strictObject({
          ...tenantQuery,
          ...eventFilterFields,
          limit: z.coerce.number().int().min(1).max(1000).default(100).describe('At most this many events (1-1000)'),
          cursor: z.string().max(2000).optional().describe('Opaque: the next_cursor of the previous page'),
          offset: z.coerce.number().int().min(0).max(100_000).optional().describe('Skip this many events (cursor is cheaper)'),
        }),
        response: {
          200: successResponse(
            z.object({
              events: z.array(storedEventSchema),
              limit: z.number().int(),
              next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page'),
            }),
          ),
          ...errors,
        },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const { limit, cursor: cursorText, offset, ...filterInput } = request.query;
      const filters = toEventFilters(filterInput);
      const cursor = cursorText === undefined ? undefined : decodeCursor(cursorText);
      if (cursor === null) throw new HttpError(400, 'INVALID_CURSOR', 'cursor is not one this API handed out');
      if (cursor !== undefined && offset !== undefined) throw new HttpError(400, 'VALIDATION_FAILED', 'use cursor or offset, not both');
      const page = await withTenantSchema(tenant, () => listEvents(pool, tenant, { ...filters, limit, cursor, offset }));
      return ok({ events: page.events, limit, next_cursor: page.next === null ? null : encodeCursor(page.next) });
    },
  );
}
