import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

export interface EndpointConnectionsOptions {
  /** Idle connections kept per address; also the most opened at once (the endpoint's concurrency). */
  maxSockets: number;
  /** An idle kept-alive connection is closed after this. */
  idleTimeoutMs?: number;
}

/** Addresses an endpoint's host resolves to are few; more than this and the oldest pool goes. */
const MAX_ADDRESSES = 4;

/**
 * Kept-alive connections of one endpoint, so a delivery does not pay a TCP (and TLS) handshake
 * — on both ends — every time. One pool per resolved address: a request goes to the address the
 * SSRF guard just checked, and a connection opened to an address is only ever reused for a
 * request that resolved to that same address, so pooling never bypasses the guard. The pools are
 * the endpoint's own (one instance per endpoint worker), so a hung connection stays private to
 * its endpoint; a request that times out destroys its connection rather than returning it.
 */
export class EndpointConnections {
  readonly #options: EndpointConnectionsOptions;
  readonly #agents = new Map<string, HttpAgent>();
  #closed = false;

  constructor(options: EndpointConnectionsOptions) {
    this.#options = options;
  }

  /** The pool for `protocol` (`http:` / `https:`) to `address:port`; undefined once closed (fresh connection). */
  agentFor(protocol: string, address: string, port: string): HttpAgent | undefined {
    if (this.#closed) return undefined;
    const key = `${protocol}//${address}:${port}`;
    const existing = this.#agents.get(key);
    if (existing !== undefined) return existing;
    const options = { keepAlive: true, maxSockets: this.#options.maxSockets, maxFreeSockets: this.#options.maxSockets, timeout: this.#options.idleTimeoutMs ?? 30_000, scheduling: 'lifo' as const };
    const agent = protocol === 'https:' ? new HttpsAgent(options) : new HttpAgent(options);
    this.#agents.set(key, agent);
    if (this.#agents.size > MAX_ADDRESSES) {
      const [oldest] = this.#agents.keys();
      if (oldest !== undefined) {
        this.#agents.get(oldest)?.destroy();
        this.#agents.delete(oldest);
      }
    }
    return agent;
  }

  /** Closes every connection; later requests open fresh ones and keep none. */
  close(): void {
    this.#closed = true;
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }
}
