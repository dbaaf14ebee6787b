import { describe, expect, it } from 'vitest';
import {
  addEndpoint,
  getEndpoint,
  type AddEndpointInput,
  listEndpoints,
  removeEndpoint,
  setEndpointEnabled,
} from './endpoints.ts';
import { InvalidInputError } from './errors.ts';
import { useTestTenants } from './test-helpers.ts';

const testTenants = useTestTenants('e', 'e');
const [tenant, other] = testTenants.tenants as [string, string];

describe('webhook endpoints', () => {
  it('adds an endpoint with a Standard Webhooks secret and defaults', async () => {
    const ep = await addEndpoint(testTenants.pool(), tenant, {
      url: 'https://example.test/hook',
      headers: { 'X-Team': 'a' },
    });
    expect(ep).toMatchObject({
      tenant,
      eventTypes: ['*'],
      enabled: true,
      timeoutMs: 10_000,
      headers: { 'X-Team': 'a' },
    });
    expect(ep.id).toMatch(/^ep_[0-9a-f]{16}$/);
    expect(ep.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(Buffer.from(ep.secret.slice(6), 'base64')).toHaveLength(24);
    expect(await getEndpoint(testTenants.pool(), tenant, ep.id)).toEqual(ep);
  });

  it('keeps endpoints per tenant', async () => {
    const ep = await addEndpoint(testTenants.pool(), tenant, {
      url: 'http://127.0.0.1:9/x',
      eventTypes: ['message.received'],
    });
    expect(await getEndpoint(testTenants.pool(), other, ep.id)).toBeNull();
    expect(await removeEndpoint(testTenants.pool(), other, ep.id)).toBe(false);
    expect(await setEndpointEnabled(testTenants.pool(), other, ep.id, false)).toBe(false);
    expect((await listEndpoints(testTenants.pool(), other)).map((e) => e.id)).not.toContain(ep.id);
  });

  it('disables, filters and removes', async () => {
    const ep = await addEndpoint(testTenants.pool(), tenant, { url: 'https://example.test/off' });
    expect(await setEndpointEnabled(testTenants.pool(), tenant, ep.id, false)).toBe(true);
    expect((await listEndpoints(testTenants.pool(), tenant)).map((e) => e.id)).toContain(ep.id);
    expect(
      (await listEndpoints(testTenants.pool(), tenant, { enabledOnly: true })).map((e) => e.id),
    ).not.toContain(ep.id);
    expect(await removeEndpoint(testTenants.pool(), tenant, ep.id)).toBe(true);
    expect(await getEndpoint(testTenants.pool(), tenant, ep.id)).toBeNull();
  });

  it.each<AddEndpointInput>([
    { url: 'ftp://example.test/x' },
    { url: 'not a url' },
    { url: 'https://example.test', timeoutMs: 0 },
    { url: 'https://example.test', eventTypes: [] },
    { url: 'https://example.test', headers: { 'Bad Header': 'x' } },
    { url: 'https://example.test', headers: { 'X-Bell': 'a\u0007b' } },
    { url: 'https://example.test', headers: { Connection: 'close' } },
    { url: 'https://example.test', headers: { 'Transfer-Encoding': 'chunked' } },
    { url: 'https://example.test', headers: { host: 'elsewhere.test' } },
  ])('refuses %j', async (input) => {
    await expect(addEndpoint(testTenants.pool(), tenant, input)).rejects.toBeInstanceOf(InvalidInputError);
  });
});
