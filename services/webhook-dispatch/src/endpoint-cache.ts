import type { Endpoint } from '@switchyard/db';

export interface EndpointCacheOptions {
  /** How long a loaded list is served before the next lookup reloads it; 0 disables caching. */
  ttlMs: number;
  /** Loads a tenant's enabled endpoints. */
  load(tenant: string): Promise<Endpoint[]>;
  /** Tests: a clock. */
  now?: () => number;
}

interface Entry {
  expiresAt: number;
  endpoints: Promise<Endpoint[]>;
}

/**
 * Per-tenant endpoint lists, reloaded at most once per TTL: every event needs the list, and a
 * busy tenant would otherwise query the control schema for each one. Concurrent lookups share
 * one load; a failed load is not cached, so the next event tries again.
 */
export class EndpointCache {
  readonly #options: EndpointCacheOptions;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();

  constructor(options: EndpointCacheOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get(tenant: string): Promise<Endpoint[]> {
    const now = this.#now();
    const cached = this.#entries.get(tenant);
    if (cached !== undefined && cached.expiresAt > now) return cached.endpoints;

    const endpoints = this.#options.load(tenant);
    const entry: Entry = { expiresAt: now + this.#options.ttlMs, endpoints };
    this.#entries.set(tenant, entry);
    endpoints.catch(() => {
      if (this.#entries.get(tenant) === entry) this.#entries.delete(tenant);
    });
    return endpoints;
  }

  /** Forgets a tenant's list, so the next lookup sees an edit made through this replica at once. */
  invalidate(tenant: string): void {
    this.#entries.delete(tenant);
  }
}
