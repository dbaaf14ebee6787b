import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { Agent } from 'node:http';
import { signingSecrets, type Endpoint } from '@switchyard/db';
import type { EndpointConnections } from './endpoint-connections.ts';
import { parseRetryAfter } from './retry-policy.ts';
import { signWebhookWithEach } from './signature.ts';
import { EMPTY_ALLOW_LIST, resolveDestination, type AllowList, type Destination } from './ssrf-guard.ts';

/** How one HTTP attempt ended; `delivered` means a 2xx answer and nothing else does. */
export type DeliveryOutcome = 'delivered' | 'http_error' | 'timeout' | 'network_error' | 'refused';

export interface DeliveryResult {
  endpointId: string;
  outcome: DeliveryOutcome;
  ok: boolean;
  /** When an HTTP response arrived. */
  status?: number;
  latencyMs: number;
  /** The start of the response body, at most RESPONSE_BODY_LIMIT bytes: enough to debug, never a log bomb. */
  responseBody?: string;
  /** Why it failed, for logs and the attempt history. */
  error?: string;
  /** The `webhook-timestamp` that was sent. */
  timestampSeconds: number;
  /** What a 429/503 asked for in `Retry-After`, in ms. */
  retryAfterMs?: number;
}

export interface WebhookDelivery {
  /** The event id: the `webhook-id`, stable across retries so receivers can deduplicate. */
  eventId: string;
  /** The envelope exactly as it was on EVENTS. */
  body: Uint8Array;
}

export type PostableEndpoint = Pick<Endpoint, 'id' | 'url' | 'headers' | 'timeoutMs' | 'secret' | 'previousSecret' | 'previousSecretExpiresAt'>;

export interface PostOptions {
  /** Private destinations allowed despite the SSRF guard. Default: none. */
  allow?: AllowList;
  /** Aborts the request (shutdown); the result is then a network error. */
  signal?: AbortSignal;
  /** The endpoint's kept-alive connections. Default: a fresh connection per request. */
  connections?: EndpointConnections;
}

export const RESPONSE_BODY_LIMIT = 1024;
const USER_AGENT = 'Switchyard-Webhooks/1';

/**
 * POSTs one event to one endpoint, signed per Standard Webhooks. Never throws: every failure is
 * a result, because the caller decides between retry, disable and dead-letter. node:http rather
 * than fetch because the connection must go to the address the SSRF guard checked (a pinned
 * `lookup`, and kept-alive connections pooled per checked address), and fetch offers no hook for
 * that without another dependency.
 */
export async function postWebhook(endpoint: PostableEndpoint, delivery: WebhookDelivery, options: PostOptions = {}): Promise<DeliveryResult> {
  const timestampSeconds = Math.floor(Date.now() / 1000);
  const started = performance.now();
  const base = { endpointId: endpoint.id, timestampSeconds };
  const elapsed = (): number => Math.round(performance.now() - started);
  const { url, destination, pinned } = await targetOf(endpoint.url, options.allow ?? EMPTY_ALLOW_LIST);
  if (!destination.ok) return { ...base, outcome: 'refused', ok: false, latencyMs: elapsed(), error: `refused: ${destination.error}` };
  const agent = options.connections?.agentFor(url.protocol, destination.address, url.port || (url.protocol === 'https:' ? '443' : '80'));
  try {
    const response = await send(url, {
      headers: deliveryHeaders(endpoint, delivery, timestampSeconds),
      body: delivery.body,
      timeoutMs: endpoint.timeoutMs,
      lookup: pinned,
      ...(agent !== undefined ? { agent } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const ok = response.status >= 200 && response.status < 300;
    const retryAfterMs = response.status === 429 || response.status === 503 ? parseRetryAfter(response.retryAfter) : undefined;
    return {
      ...base,
      outcome: ok ? 'delivered' : 'http_error',
      ok,
      status: response.status,
      latencyMs: elapsed(),
      responseBody: response.body,
      ...(ok ? {} : { error: `HTTP ${response.status}` }),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    };
  } catch (err) {
    const timedOut = err instanceof TimeoutError;
    return {
      ...base,
      outcome: timedOut ? 'timeout' : 'network_error',
      ok: false,
      latencyMs: elapsed(),
      error: timedOut ? `no response within ${endpoint.timeoutMs} ms` : describeError(err),
    };
  }
}

interface Target {
  url: URL;
  destination: Destination;
  /** A `lookup` that answers the checked address: the connection goes where the guard looked. */
  pinned: LookupFunction;
}

/**
 * An endpoint URL whose host is an IP address always checks the same way, so its parsed URL and
 * verdict are kept (per allow-list); a host name is resolved and checked again for every request
 * (DNS may move it). At most TARGET_CACHE_MAX kept; the oldest goes first.
 */
const literalTargets = new WeakMap<AllowList, Map<string, Target>>();
const TARGET_CACHE_MAX = 1_000;

async function targetOf(rawUrl: string, allow: AllowList): Promise<Target> {
  const cached = literalTargets.get(allow)?.get(rawUrl);
  if (cached !== undefined) return cached;
  const url = new URL(rawUrl);
  const destination = await resolveDestination(url, allow);
  const target: Target = {
    url,
    destination,
    pinned: (_host, opts, callback) => {
      if (!destination.ok) callback(new Error(destination.error), '', 4);
      else if (opts.all === true) callback(null, [{ address: destination.address, family: destination.family }]);
      else callback(null, destination.address, destination.family);
    },
  };
  if (isIP(url.hostname.replace(/^\[(.*)\]$/, '$1')) !== 0) {
    let cache = literalTargets.get(allow);
    if (cache === undefined) literalTargets.set(allow, (cache = new Map<string, Target>()));
    if (cache.size >= TARGET_CACHE_MAX) cache.delete(cache.keys().next().value!);
    cache.set(rawUrl, target);
  }
  return target;
}

class TimeoutError extends Error {
  override name = 'TimeoutError';
}

interface SendOptions {
  headers: Record<string, string>;
  body: Uint8Array;
  timeoutMs: number;
  lookup: LookupFunction;
  /** Kept-alive connections to the pinned address; without one, a fresh connection. */
  agent?: Agent;
  signal?: AbortSignal;
}

interface Answer {
  status: number;
  body: string;
  retryAfter?: string;
}

// A kept-alive connection the receiver closed just as it was reused fails before any answer: the
// request never reached the receiver's application, so it goes again once, on another connection.
async function send(url: URL, options: SendOptions): Promise<Answer> {
  try {
    return await sendOnce(url, options);
  } catch (err) {
    if (err instanceof StaleConnectionError) return sendOnce(url, options);
    throw err;
  }
}

class StaleConnectionError extends Error {
  override name = 'StaleConnectionError';
}

const STALE_CONNECTION_CODES = new Set(['ECONNRESET', 'EPIPE']);

// One request; redirects are answers like any other (3xx is not 2xx), never followed: following
// one would send signed events wherever the endpoint (or whoever took over its DNS) points.
function sendOnce(url: URL, options: SendOptions): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
      method: 'POST',
      headers: { ...options.headers, 'content-length': String(options.body.byteLength) },
      lookup: options.lookup,
      // The pool (if any) is the endpoint's own and per pinned address; see EndpointConnections.
      agent: options.agent ?? false,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    // The whole exchange, not just socket inactivity, must fit in the endpoint's timeout.
    const timer = setTimeout(() => request.destroy(new TimeoutError()), options.timeoutMs);
    const finish = (fn: () => void): void => {
      clearTimeout(timer);
      fn();
    };
    let answered = false;
    request.on('error', (err) => {
      const code = (err as { code?: unknown }).code;
      const stale = !answered && request.reusedSocket && typeof code === 'string' && STALE_CONNECTION_CODES.has(code);
      finish(() => reject(stale ? new StaleConnectionError(err.message, { cause: err }) : err));
    });
    request.on('response', (response: IncomingMessage) => {
      answered = true;
      readHead(response, RESPONSE_BODY_LIMIT)
        .then((body) => {
          const retryAfter = response.headers['retry-after'];
          finish(() => resolve({ status: response.statusCode ?? 0, body, ...(retryAfter !== undefined ? { retryAfter } : {}) }));
          // A body read to its end leaves the connection reusable; one cut short must not be reused.
          if (!response.complete) request.destroy();
        })
        .catch((err: unknown) => finish(() => reject(err instanceof Error ? err : new Error(String(err)))));
    });
    request.end(options.body);
  });
}

function deliveryHeaders(endpoint: PostableEndpoint, delivery: WebhookDelivery, timestampSeconds: number): Record<string, string> {
  const headers: Record<string, string> = {};
  // The endpoint's own headers first, lower-cased, so none of the webhook ones can be forged.
  for (const [name, value] of Object.entries(endpoint.headers)) headers[name.toLowerCase()] = value;
  headers['content-type'] = 'application/json';
  headers['user-agent'] = USER_AGENT;
  headers['webhook-id'] = delivery.eventId;
  headers['webhook-timestamp'] = String(timestampSeconds);
  headers['webhook-signature'] = signWebhookWithEach(signingSecrets(endpoint), delivery.eventId, timestampSeconds, delivery.body);
  delete headers['host'];
  delete headers['content-length'];
  return headers;
}

/**
 * Reads at most `limit` bytes of the body, then drops the rest, so a huge (or endless) response
 * costs nothing. A body that fails mid-read keeps what arrived: the status already decided.
 */
function readHead(response: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      response.removeAllListeners('data');
      const bytes = Buffer.concat(chunks);
      let end = Math.min(limit, bytes.length);
      // Cut at a character boundary so the text never ends in half a UTF-8 sequence.
      while (end > 0 && end < bytes.length && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
      resolve(bytes.subarray(0, end).toString('utf8'));
    };
    response.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size >= limit) {
        done();
        response.destroy();
      }
    });
    response.on('end', done);
    response.on('error', done);
    response.on('close', done);
  });
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && !err.message.includes(code) ? `${code} ${err.message}` : err.message;
}
