import type { Principal } from '@switchyard/db';
import { isValidTenantId } from '@switchyard/schema';
import type { FastifyRequest } from 'fastify';
import type { AuthRequirement } from './fastify-types.ts';
import { HttpError } from './http-error.ts';
import type { VerifyApiKey } from './api-key-cache.ts';

export const TENANT_HEADER = 'x-switchyard-tenant';

/** Reads the key from `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function extractApiKey(request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization;
  const bearer = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1] : undefined;
  if (bearer) return bearer;
  const header = request.headers['x-api-key'];
  return typeof header === 'string' && header.trim() !== '' ? header.trim() : undefined;
}

/** `admin` includes `read`; an operator key passes every requirement; a tenant key is never `operator`. */
export function permits(principal: Principal, need: AuthRequirement): boolean {
  if (principal.kind === 'operator') return true;
  if (need === 'operator') return false;
  return need === 'read' || principal.role === 'admin';
}

/** onRequest hook: authenticates routes that declare `config.auth` and sets `request.principal`. */
export function authHook(verify: VerifyApiKey) {
  return async (request: FastifyRequest): Promise<void> => {
    const need = request.routeOptions.config.auth;
    if (!need) return;
    const key = extractApiKey(request);
    if (!key) throw new HttpError(401, 'UNAUTHENTICATED', 'missing API key: send Authorization: Bearer <key> or X-API-Key');
    const principal = await verify(key);
    if (!principal) throw new HttpError(401, 'UNAUTHENTICATED', 'unknown or revoked API key');
    if (!permits(principal, need)) throw new HttpError(403, 'FORBIDDEN', `this route needs a key with ${need} access`);
    request.principal = principal;
  };
}

function requirePrincipal(request: FastifyRequest): Principal {
  // Reaching this without a principal means the route forgot `config.auth`: fail closed.
  if (!request.principal) throw new HttpError(401, 'UNAUTHENTICATED', 'this route requires an API key');
  return request.principal;
}

/**
 * The tenant a request acts for. A tenant key acts for ITS tenant only — never one named in the
 * URL or body. An operator key must name one explicitly (X-Switchyard-Tenant header or `tenant`
 * query parameter). Throws 400 TENANT_REQUIRED / VALIDATION_FAILED otherwise.
 */
export function tenantOf(request: FastifyRequest): string {
  const principal = requirePrincipal(request);
  if (principal.kind === 'tenant') return principal.tenant;
  const named = headerTenant(request) ?? queryTenant(request);
  if (named === undefined) {
    throw new HttpError(400, 'TENANT_REQUIRED', 'operator keys must name a tenant: X-Switchyard-Tenant header or ?tenant=');
  }
  if (!isValidTenantId(named)) {
    throw new HttpError(400, 'VALIDATION_FAILED', 'tenant: tenant id must match ^[a-z0-9][a-z0-9_-]{0,62}$');
  }
  return named;
}

function headerTenant(request: FastifyRequest): string | undefined {
  const value = request.headers[TENANT_HEADER];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function queryTenant(request: FastifyRequest): string | undefined {
  const query = request.query;
  if (typeof query !== 'object' || query === null || !('tenant' in query)) return undefined;
  return typeof query.tenant === 'string' && query.tenant !== '' ? query.tenant : undefined;
}

/**
 * Guards a resource of `tenant` (taken from the URL or a looked-up row). A tenant key asking for
 * another tenant's resource gets 404, not 403, so it cannot probe which ids exist elsewhere.
 */
export function assertTenantAccess(request: FastifyRequest, tenant: string): void {
  const principal = requirePrincipal(request);
  if (principal.kind === 'tenant' && principal.tenant !== tenant) {
    throw new HttpError(404, 'NOT_FOUND', 'not found');
  }
}
