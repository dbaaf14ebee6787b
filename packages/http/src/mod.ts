/**
 * @switchyard/http — the one HTTP setup every service uses, so health, metrics, docs, errors and
 * API-key auth look the same everywhere: fastify + zod route schemas + OpenAPI at /docs.
 * Routes answer `ok(data)`; failures throw `HttpError` and leave shaping to the error handler.
 */
export { createHttpServer, listen, type HttpServer, type CreateHttpServerOptions, type BoundAddress } from './server.ts';
export type { Readiness } from './health-routes.ts';
export { HttpError, isHttpError } from './http-error.ts';
export { ok, errorBody, successResponse, errorResponseSchema, errorResponses, operatorTenantQuery, type SuccessBody, type ErrorBody } from './response.ts';
export { tenantOf, assertTenantAccess, extractApiKey, permits, TENANT_HEADER } from './auth.ts';
export { cachedVerifier, type VerifyApiKey, type ApiKeyCacheOptions } from './api-key-cache.ts';
export type { AuthRequirement } from './fastify-types.ts';
