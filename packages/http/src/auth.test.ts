import type { Principal } from '@switchyard/db';
import { createLogger, createMetricsRegistry } from '@switchyard/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { assertTenantAccess, tenantOf } from './auth.ts';
import { ok } from './response.ts';
import { createHttpServer, listen, type HttpServer } from './server.ts';

// Injected test data: the keys a real db-backed verifier would find.
const KEYS = new Map<string, Principal>([
  ['key-a-read', { kind: 'tenant', tenant: 'acme', role: 'read', keyId: 'k1' }],
  ['key-a-admin', { kind: 'tenant', tenant: 'acme', role: 'admin', keyId: 'k2' }],
  ['key-b-read', { kind: 'tenant', tenant: 'globex', role: 'read', keyId: 'k3' }],
  ['key-op', { kind: 'operator', keyId: 'k4' }],
]);
const verifyCalls: string[] = [];
const verifyApiKey = async (key: string) => {
  verifyCalls.push(key);
  return KEYS.get(key) ?? null;
};

let server: HttpServer;
let url: string;

beforeAll(async () => {
  server = await createHttpServer({
    service: 'persistence',
    logger: createLogger({ service: 'persistence', level: 'silent' }),
    registry: createMetricsRegistry('persistence'),
    readiness: async () => ({ ok: true }),
    verifyApiKey,
    apiKeyCacheTtlMs: 200,
  });
  server.get('/v1/public', async () => ok('hello'));
  server.get('/v1/whoami', { config: { auth: 'read' } }, async (request) => ok({ tenant: tenantOf(request) }));
  server.delete('/v1/things/:id', { config: { auth: 'admin' } }, async () => ok({ deleted: true }));
  server.get(
    '/v1/tenants/:tenant/events',
    { config: { auth: 'read' }, schema: { params: z.object({ tenant: z.string() }) } },
    async (request) => {
      assertTenantAccess(request, request.params.tenant);
      return ok({ tenant: request.params.tenant, events: [] });
    },
  );
  server.post('/v1/admin/requeue', { config: { auth: 'operator' } }, async () => ok({ requeued: 0 }));
  url = (await listen(server, { host: '127.0.0.1', port: 0 })).url;
});

afterAll(async () => {
  await server.close();
});

async function call(path: string, headers: Record<string, string> = {}, method = 'GET') {
  const response = await fetch(`${url}${path}`, { method, headers });
  const body = (await response.json()) as { success: boolean; data?: unknown; error?: { code: string; message: string } };
  return { status: response.status, body };
}

describe('auth hook', () => {
  it('leaves routes without config.auth public', async () => {
    expect(await call('/v1/public')).toEqual({ status: 200, body: { success: true, data: 'hello' } });
  });

  it('answers 401 for a missing or unknown key', async () => {
    const missing = await call('/v1/whoami');
    expect(missing.status).toBe(401);
    expect(missing.body.error?.code).toBe('UNAUTHENTICATED');
    expect((await call('/v1/whoami', { authorization: 'Bearer nope' })).status).toBe(401);
    expect((await call('/v1/whoami', { authorization: 'Basic key-a-read' })).status).toBe(401);
  });

  it('accepts both header forms', async () => {
    expect(await call('/v1/whoami', { authorization: 'Bearer key-a-read' })).toMatchObject({ status: 200, body: { data: { tenant: 'acme' } } });
    expect(await call('/v1/whoami', { 'x-api-key': 'key-b-read' })).toMatchObject({ status: 200, body: { data: { tenant: 'globex' } } });
  });

  it('answers 403 when the role is too low; admin includes read', async () => {
    const denied = await call('/v1/things/1', { authorization: 'Bearer key-a-read' }, 'DELETE');
    expect(denied.status).toBe(403);
    expect(denied.body.error?.code).toBe('FORBIDDEN');
    expect((await call('/v1/things/1', { authorization: 'Bearer key-a-admin' }, 'DELETE')).status).toBe(200);
    expect((await call('/v1/whoami', { authorization: 'Bearer key-a-admin' })).status).toBe(200);
    expect((await call('/v1/admin/requeue', { authorization: 'Bearer key-a-admin' }, 'POST')).status).toBe(403);
    expect((await call('/v1/admin/requeue', { authorization: 'Bearer key-op' }, 'POST')).status).toBe(200);
  });

  it('hides other tenants\' resources behind 404', async () => {
    const own = await call('/v1/tenants/acme/events', { authorization: 'Bearer key-a-read' });
    expect(own.status).toBe(200);
    const other = await call('/v1/tenants/globex/events', { authorization: 'Bearer key-a-read' });
    expect(other).toEqual({ status: 404, body: { success: false, error: { code: 'NOT_FOUND', message: 'not found' } } });
    expect((await call('/v1/tenants/globex/events', { authorization: 'Bearer key-op' })).status).toBe(200);
  });

  it('binds a tenant key to its own tenant whatever the request names', async () => {
    const result = await call('/v1/whoami?tenant=globex', { authorization: 'Bearer key-a-read', 'x-switchyard-tenant': 'globex' });
    expect(result.body.data).toEqual({ tenant: 'acme' });
  });

  it('makes an operator name the tenant explicitly', async () => {
    const without = await call('/v1/whoami', { authorization: 'Bearer key-op' });
    expect(without.status).toBe(400);
    expect(without.body.error?.code).toBe('TENANT_REQUIRED');
    expect((await call('/v1/whoami', { authorization: 'Bearer key-op', 'x-switchyard-tenant': 'globex' })).body.data).toEqual({ tenant: 'globex' });
    expect((await call('/v1/whoami?tenant=acme', { authorization: 'Bearer key-op' })).body.data).toEqual({ tenant: 'acme' });
    const invalid = await call('/v1/whoami', { authorization: 'Bearer key-op', 'x-switchyard-tenant': 'Bad Tenant!' });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error?.code).toBe('VALIDATION_FAILED');
  });

  it('caches verifications for the TTL, so revocation takes effect after it', async () => {
    KEYS.set('key-temp', { kind: 'tenant', tenant: 'acme', role: 'read', keyId: 'k5' });
    verifyCalls.length = 0;
    expect((await call('/v1/whoami', { authorization: 'Bearer key-temp' })).status).toBe(200);
    expect((await call('/v1/whoami', { authorization: 'Bearer key-temp' })).status).toBe(200);
    expect(verifyCalls.filter((key) => key === 'key-temp')).toHaveLength(1);
    KEYS.delete('key-temp');
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect((await call('/v1/whoami', { authorization: 'Bearer key-temp' })).status).toBe(401);
  });
});

describe('OpenAPI security', () => {
  it('marks authenticated routes', async () => {
    const doc = (await (await fetch(`${url}/docs/json`)).json()) as {
      paths: Record<string, Record<string, { security?: unknown }>>;
    };
    expect(doc.paths['/v1/whoami']?.get?.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(doc.paths['/v1/public']?.get?.security).toBeUndefined();
  });
});
