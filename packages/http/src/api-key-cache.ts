import { createHash } from 'node:crypto';
import type { Principal } from '@switchyard/db';

export type VerifyApiKey = (key: string) => Promise<Principal | null>;

export interface ApiKeyCacheOptions {
  /** How long a successful verification is reused. Default 5s. */
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  principal: Principal;
  expiresAt: number;
}

/**
 * Caches POSITIVE verifications only, for `ttlMs` (default 5s): so a revoked key keeps working
 * for at most that long on each replica, and a newly created key works at once. Unknown keys
 * always reach `verify`. Entries are keyed by SHA-256 of the key so raw keys are not retained.
 */
export function cachedVerifier(verify: VerifyApiKey, options: ApiKeyCacheOptions = {}): VerifyApiKey {
  const ttlMs = options.ttlMs ?? 5_000;
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  return async (key) => {
    const id = createHash('sha256').update(key).digest('base64url');
    const hit = entries.get(id);
    if (hit && hit.expiresAt > now()) return hit.principal;
    entries.delete(id);
    const principal = await verify(key);
    if (principal && ttlMs > 0) {
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value ?? '');
      entries.set(id, { principal, expiresAt: now() + ttlMs });
    }
    return principal;
  };
}
