import { describe, expect, it } from 'vitest';
import type { Endpoint } from '@switchyard/db';
import { EndpointCache } from './endpoint-cache.ts';

function endpoint(id: string): Endpoint {
  const at = new Date(0);
  return { id, tenant: 'acme', url: 'http://127.0.0.1/', eventTypes: ['*'], enabled: true, secret: 'whsec_AA==', headers: {}, timeoutMs: 1000,
    retryDelaysMs: null, maxConcurrency: null, rateLimitPerSecond: null, previousSecret: null, previousSecretExpiresAt: null, disabledReason: null,
    createdAt: at, updatedAt: at };
}

describe('EndpointCache', () => {
  it('serves a loaded list until the TTL passes, then reloads', async () => {
    let clock = 0;
    let loads = 0;
    const cache = new EndpointCache({ ttlMs: 5_000, now: () => clock, load: async () => [endpoint(`ep${++loads}`)] });
    expect((await cache.get('acme'))[0]?.id).toBe('ep1');
    clock = 4_999;
    expect((await cache.get('acme'))[0]?.id).toBe('ep1');
    clock = 5_000;
    expect((await cache.get('acme'))[0]?.id).toBe('ep2');
    expect(loads).toBe(2);
  });

  it('keeps tenants apart and shares one load between concurrent lookups', async () => {
    const loaded: string[] = [];
    const cache = new EndpointCache({ ttlMs: 5_000, load: async (tenant) => (loaded.push(tenant), [endpoint(tenant)]) });
    const [a, b, c] = await Promise.all([cache.get('acme'), cache.get('acme'), cache.get('other')]);
    expect([a[0]?.id, b[0]?.id, c[0]?.id]).toEqual(['acme', 'acme', 'other']);
    expect(loaded).toEqual(['acme', 'other']);
  });

  it('does not cache a failed load', async () => {
    let calls = 0;
    const cache = new EndpointCache({
      ttlMs: 5_000,
      load: async () => {
        if (++calls === 1) throw new Error('postgres away');
        return [endpoint('ep')];
      },
    });
    await expect(cache.get('acme')).rejects.toThrow('postgres away');
    expect((await cache.get('acme'))[0]?.id).toBe('ep');
  });

  it('reloads every time with a TTL of 0', async () => {
    let loads = 0;
    const cache = new EndpointCache({ ttlMs: 0, load: async () => (loads++, []) });
    await cache.get('acme');
    await cache.get('acme');
    expect(loads).toBe(2);
  });
});
