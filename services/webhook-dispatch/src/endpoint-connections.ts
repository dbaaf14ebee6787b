import type { LookupFunction } from 'node:net';
import { Client, Pool, type Dispatcher } from 'undici';

export interface EndpointConnectionsOptions {
  /** Idle connections kept per address; also the most opened at once (the endpoint's concurrency). */
  maxSockets: number;
  /** An idle kept-alive connection is closed after this (sooner if the receiver's Keep-Alive asks). */
  idleTimeoutMs?: number;
}

/** Addresses an endpoint's host resolves to are few; more than this and the oldest pool goes. */
const MAX_ADDRESSES = 4;

/** Where a request goes: the URL's origin (Host header, TLS server name) and the address the SSRF guard checked. */
export interface PinnedOrigin {
  origin: string;
  address: string;
  /** Answers `address` for every lookup, so the connection goes where the guard looked. */
  lookup: LookupFunction;
}

/**
 * Kept-alive connections of one endpoint (undici pools), so a delivery does not pay a TCP (and
 * TLS) handshake — on both ends — every time. One pool per resolved address, whose connections
 * are opened through a `lookup` pinned to that address: a request goes to the address the SSRF
 * guard just checked, and a connection opened to an address is only ever reused for a request
 * that resolved to that same address, so pooling never bypasses the guard. The pools are the
 * endpoint's own (one instance per endpoint worker), so a hung connection stays private to its
 * endpoint; a request that times out is aborted, which closes its connection rather than
 * returning it.
 */
export class EndpointConnections {
  readonly #options: EndpointConnectionsOptions;
  readonly #pools = new Map<string, Pool>();
  #closed = false;

  constructor(options: EndpointConnectionsOptions) {
    this.#options = options;
  }

  /** The pool for `target`; undefined once closed (the caller then uses a one-off connection). */
  poolFor(target: PinnedOrigin): Dispatcher | undefined {
    if (this.#closed) return undefined;
    const key = `${target.origin}@${target.address}`;
    const existing = this.#pools.get(key);
    if (existing !== undefined) return existing;
    const idle = this.#options.idleTimeoutMs ?? 30_000;
    const pool = new Pool(target.origin, {
      connections: this.#options.maxSockets,
      keepAliveTimeout: idle,
      keepAliveMaxTimeout: idle,
      connect: { lookup: target.lookup },
    });
    this.#pools.set(key, pool);
    if (this.#pools.size > MAX_ADDRESSES) {
      const [oldest] = this.#pools.keys();
      if (oldest !== undefined) {
        void destroy(this.#pools.get(oldest));
        this.#pools.delete(oldest);
      }
    }
    return pool;
  }

  /** Closes every connection; later requests open one-off connections and keep none. */
  close(): void {
    this.#closed = true;
    for (const pool of this.#pools.values()) void destroy(pool);
    this.#pools.clear();
  }
}

/** A connection for one request, closed after it (no pool, or the pool is closed). */
export function oneOffConnection(target: PinnedOrigin): Client {
  return new Client(target.origin, { pipelining: 1, connect: { lookup: target.lookup } });
}

// Destroying aborts what is in flight (those requests end as network errors); it does not fail.
async function destroy(dispatcher: Dispatcher | undefined): Promise<void> {
  await dispatcher?.destroy();
}
