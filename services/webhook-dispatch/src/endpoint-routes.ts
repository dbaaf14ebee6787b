import { addEndpoint, getEndpoint, InvalidInputError, listEndpoints, removeEndpoint, rotateEndpointSecret, setEndpointEnabled, updateEndpoint, type Pool } from '@switchyard/db';
import { errorResponses, errorResponseSchema, HttpError, type HttpServer, ok, operatorTenantQuery, successResponse, tenantOf } from '@switchyard/http';
import { z } from 'zod';
import { createEndpointSchema, endpointViewSchema, endpointWithSecretSchema, toEndpointInput, toEndpointView, updateEndpointSchema } from './endpoint-view.ts';
import { resolveDestination, type AllowList } from './ssrf-guard.ts';

export interface EndpointRoutesDeps {
  pool: Pool;
  allow: AllowList;
  /** An endpoint of `tenant` changed: refresh caches and workers now. */
  changed(tenant: string): Promise<void>;
}

const tenantQuery = z.object(operatorTenantQuery);
export const endpointParams = z.object({ id: z.string().regex(/^ep_[0-9a-f]{16}$/, 'must be an endpoint id').describe('Endpoint id') });
const errors = errorResponses(400, 401, 403, 404);
const DAY_S = 86_400;

/**
 * A tenant's webhook endpoints: admin keys manage them, read keys list them. The URL is checked
 * against the SSRF guard here (and again before every delivery, after DNS resolution).
 */
export function registerEndpointRoutes(http: HttpServer, deps: EndpointRoutesDeps): void {
  const { pool } = deps;
  const checkUrl = async (url: string | undefined): Promise<void> => {
    if (url === undefined) return;
    const destination = await resolveDestination(new URL(url), deps.allow);
    if (!destination.ok) throw new HttpError(422, 'URL_REFUSED', destination.error);
  };
  const found = <T>(value: T | null | false, id: string): T => {
    if (value === null || value === false) throw new HttpError(404, 'NOT_FOUND', `no endpoint ${id}`);
    return value;
  };
  const invalid = (err: unknown): never => {
    if (err instanceof InvalidInputError) throw new HttpError(400, 'VALIDATION_FAILED', err.message);
    throw err;
  };

  http.post(
    '/api/webhooks/endpoints',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Register an endpoint; its signing secret is in this answer only',
        tags: ['endpoints'],
        querystring: tenantQuery,
        body: createEndpointSchema,
        response: { 201: successResponse(endpointWithSecretSchema), ...errors, 422: errorResponseSchema },
      },
    },
    async (request, reply) => {
      const tenant = tenantOf(request);
      await checkUrl(request.body.url);
      const created = await addEndpoint(pool, tenant, { url: request.body.url, ...toEndpointInput(request.body) }).catch(invalid);
      await deps.changed(tenant);
      return reply.code(201).send(ok({ ...toEndpointView(created), secret: created.secret }));
    },
  );

  http.get(
    '/api/webhooks/endpoints',
    {
      config: { auth: 'read' },
      schema: { summary: "List the tenant's endpoints", tags: ['endpoints'], querystring: tenantQuery, response: { 200: successResponse(z.object({ endpoints: z.array(endpointViewSchema) })), ...errors } },
    },
    async (request) => ok({ endpoints: (await listEndpoints(pool, tenantOf(request))).map(toEndpointView) }),
  );

  http.get(
    '/api/webhooks/endpoints/:id',
    {
      config: { auth: 'read' },
      schema: { summary: 'Get one endpoint', tags: ['endpoints'], params: endpointParams, querystring: tenantQuery, response: { 200: successResponse(endpointViewSchema), ...errors } },
    },
    async (request) => ok(toEndpointView(found(await getEndpoint(pool, tenantOf(request), request.params.id), request.params.id))),
  );

  http.patch(
    '/api/webhooks/endpoints/:id',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Change an endpoint (fields left out stay; null resets a limit or schedule to the default)',
        tags: ['endpoints'],
        params: endpointParams,
        querystring: tenantQuery,
        body: updateEndpointSchema,
        response: { 200: successResponse(endpointViewSchema), ...errors, 422: errorResponseSchema },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      await checkUrl(request.body.url);
      const updated = found(await updateEndpoint(pool, tenant, request.params.id, toEndpointInput(request.body)).catch(invalid), request.params.id);
      await deps.changed(tenant);
      return ok(toEndpointView(updated));
    },
  );

  http.delete(
    '/api/webhooks/endpoints/:id',
    {
      config: { auth: 'admin' },
      schema: { summary: 'Remove an endpoint', tags: ['endpoints'], params: endpointParams, querystring: tenantQuery, response: { 200: successResponse(z.object({ id: z.string(), removed: z.literal(true) })), ...errors } },
    },
    async (request) => {
      const tenant = tenantOf(request);
      found(await removeEndpoint(pool, tenant, request.params.id), request.params.id);
      await deps.changed(tenant);
      return ok({ id: request.params.id, removed: true as const });
    },
  );

  for (const action of ['enable', 'disable'] as const) {
    http.post(
      `/api/webhooks/endpoints/:id/${action}`,
      {
        config: { auth: 'admin' },
        schema: { summary: `${action === 'enable' ? 'Enable' : 'Disable'} an endpoint`, tags: ['endpoints'], params: endpointParams, querystring: tenantQuery, response: { 200: successResponse(endpointViewSchema), ...errors } },
      },
      async (request) => {
        const tenant = tenantOf(request);
        found(await setEndpointEnabled(pool, tenant, request.params.id, action === 'enable'), request.params.id);
        await deps.changed(tenant);
        return ok(toEndpointView(found(await getEndpoint(pool, tenant, request.params.id), request.params.id)));
      },
    );
  }

  http.post(
    '/api/webhooks/endpoints/:id/rotate-secret',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Replace the signing secret; the old one keeps signing for the overlap',
        description: 'During the overlap every delivery carries two `v1,` signatures (new first), so receivers can switch at their pace.',
        tags: ['endpoints'],
        params: endpointParams,
        querystring: tenantQuery,
        body: z.object({ overlap_seconds: z.number().int().min(0).max(7 * DAY_S).default(DAY_S).describe('How long the old secret still signs (default 24h)') }).optional(),
        response: { 200: successResponse(endpointWithSecretSchema), ...errors },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const overlapMs = (request.body?.overlap_seconds ?? DAY_S) * 1000;
      const rotated = found(await rotateEndpointSecret(pool, tenant, request.params.id, overlapMs), request.params.id);
      await deps.changed(tenant);
      return ok({ ...toEndpointView(rotated), secret: rotated.secret });
    },
  );
}
