import { tenantOf, TENANT_HEADER } from '@switchyard/http';
import { SYSTEM_TENANT } from '@switchyard/schema';

// The request type of the HTTP package, without a direct fastify dependency here.
type ApiRequest = Parameters<typeof tenantOf>[0];

/**
 * Whose exhausted events a request sees: like `tenantOf` (a tenant key sees only its own), but
 * an operator may also name the system tenant, whose rows (unattributable or orphaned messages)
 * live in the control schema. A tenant key naming `_system` still gets its own tenant.
 */
export function exhaustedScope(request: ApiRequest): string {
  if (request.principal?.kind === 'operator' && namedTenant(request) === SYSTEM_TENANT) return SYSTEM_TENANT;
  return tenantOf(request);
}

function namedTenant(request: ApiRequest): string | undefined {
  const header = request.headers[TENANT_HEADER];
  if (typeof header === 'string' && header !== '') return header;
  const query = request.query;
  if (typeof query !== 'object' || query === null || !('tenant' in query)) return undefined;
  return typeof query.tenant === 'string' ? query.tenant : undefined;
}
