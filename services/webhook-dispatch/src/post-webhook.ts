import { EventEmitter } from 'node:events';
import { isIP, type LookupFunction } from 'node:net';
import type { Dispatcher } from 'undici';
import { RESERVED_ENDPOINT_HEADERS, signingSecrets, type Endpoint } from '@switchyard/db';
import { oneOffConnection, type EndpointConnections, type PinnedOrigin } from './endpoint-connections.ts';
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
 * a result, because the caller decides between retry, disable and dead-letter. Through undici's
 * request API (not fetch, and not node:http, which cost ~3× and ~2× its CPU per request) on a
 * connection opened through a `lookup` pinned to the address the SSRF guard checked, from the
 * endpoint's pool of kept-alive connections to that address.
 */
export async function postWebhook(endpoint: PostableEndpoint, delivery: WebhookDelivery, options: PostOptions = {}): Promise<DeliveryResult> {
  const timestampSeconds = Math.floor(Date.now() / 1000);
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const allow = options.allow ?? EMPTY_ALLOW_LIST;
  const { destination, pinned, path } = cachedTarget(endpoint.url, allow) ?? (await targetOf(endpoint.url, allow));
  if (!destination.ok || pinned === undefined) {
    return { endpointId: endpoint.id, timestampSeconds, outcome: 'refused', ok: false, latencyMs: elapsed(), error: `refused: ${destination.ok ? 'no address' : destination.error}` };
  }
  const pool = options.connections?.poolFor(pinned);
  const dispatcher = pool ?? oneOffConnection(pinned);
  try {
    const response = await send(
      dispatcher,
      {
        path,
        headers: deliveryHeaders(endpoint, delivery, timestampSeconds),
        body: delivery.body,
        timeoutMs: endpoint.timeoutMs,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      pool !== undefined,
    );
    const ok = response.status >= 200 && response.status < 300;
    const result: DeliveryResult = { endpointId: endpoint.id, timestampSeconds, outcome: ok ? 'delivered' : 'http_error', ok, status: response.status, latencyMs: elapsed(), responseBody: response.body };
    if (!ok) {
      result.error = `HTTP ${response.status}`;
      const retryAfterMs = response.status === 429 || response.status === 503 ? parseRetryAfter(response.retryAfter) : undefined;
      if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
    }
    return result;
  } catch (err) {
    const timedOut = err instanceof TimeoutError;
    return {
      endpointId: endpoint.id,
      timestampSeconds,
      outcome: timedOut ? 'timeout' : 'network_error',
      ok: false,
      latencyMs: elapsed(),
      error: timedOut ? `no response within ${endpoint.timeoutMs} ms` : describeError(err),
    };
  } finally {
    if (pool === undefined) await dispatcher.destroy();
  }
}

interface Target {
  url: URL;
  destination: Destination;
  /** The URL's origin, pinned to the checked address (undefined when refused). */
  pinned?: PinnedOrigin;
  /** The request path with its query. */
  path: string;
}

/**
 * An endpoint URL whose host is an IP address always checks the same way, so its parsed URL and
 * verdict are kept (per allow-list); a host name is resolved and checked again for every request
 * (DNS may move it). At most TARGET_CACHE_MAX kept; the oldest goes first.
 */
const literalTargets = new WeakMap<AllowList, Map<string, Target>>();
const TARGET_CACHE_MAX = 1_000;

function cachedTarget(rawUrl: string, allow: AllowList): Target | undefined {
  return literalTargets.get(allow)?.get(rawUrl);
}

async function targetOf(rawUrl: string, allow: AllowList): Promise<Target> {
  const url = new URL(rawUrl);
  const destination = await resolveDestination(url, allow);
  const target: Target = { url, destination, path: `${url.pathname}${url.search}` };
  if (destination.ok) {
    const { address, family } = destination;
    const lookup: LookupFunction = (_host, opts, callback) => {
      if (opts.all === true) callback(null, [{ address, family }]);
      else callback(null, address, family);
    };
    target.pinned = { origin: url.origin, address, lookup };
  }
  if (isIP(url.hostname.replace(/^\[(.*)\]$/, '$1')) !== 0) {
    let cache = literalTargets.get(allow);
    if (cache === undefined) literalTargets.set(allow, (cache = new Map<string, Target>()));
    if (cache.size >= TARGET_CACHE_MAX) cache.delete(cache.keys().next().value!);
    cache.set(rawUrl, target);
  }
  return target;
}

interface SendOptions {
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
  timeoutMs: number;
  signal?: AbortSignal;
}

interface Answer {
  status: number;
  body: string;
  retryAfter?: string;
}

/** The whole exchange overran the endpoint's timeout. */
class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/**
 * One request's abort handle: an EventEmitter with `aborted` and `reason`, which undici accepts
 * as a request's signal. An AbortController costs ~2.5% of the dispatcher's CPU per delivery to
 * create (Node 20's EventTarget set-up), and every request needs one for its timeout.
 */
class RequestAbort extends EventEmitter {
  aborted = false;
  reason: Error | undefined;

  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}

/**
 * The requests in flight under each stop signal: one 'abort' listener per signal aborts them all,
 * instead of one listener added and removed per request.
 */
const inFlight = new WeakMap<AbortSignal, Set<RequestAbort>>();

function underSignal(signal: AbortSignal, request: RequestAbort): () => void {
  let requests = inFlight.get(signal);
  if (requests === undefined) {
    const set = new Set<RequestAbort>();
    inFlight.set(signal, (requests = set));
    signal.addEventListener('abort', () => {
      for (const each of set) each.abort(abortReason(signal.reason));
      set.clear();
    }, { once: true });
  }
  requests.add(request);
  return () => requests.delete(request);
}

// A kept-alive connection the receiver closes just as a request goes out on it fails before any
// answer (undici: UND_ERR_SOCKET "other side closed"; a reset or broken pipe), and almost always
// before the receiver's application saw the request, so a pooled request goes again once. undici
// does not say whether the connection was a reused one, so in the rare case where the receiver
// read the request and then dropped the connection it gets it twice, with the same webhook-id (a
// duplicate like any at-least-once redelivery). A one-off connection is never retried.
const STALE_CONNECTION_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

async function send(dispatcher: Dispatcher, options: SendOptions, pooled: boolean): Promise<Answer> {
  try {
    return await sendOnce(dispatcher, options);
  } catch (err) {
    if (pooled && err instanceof StaleConnectionError) return sendOnce(dispatcher, options);
    throw err;
  }
}

class StaleConnectionError extends Error {
  override name = 'StaleConnectionError';
}

// One request; redirects are answers like any other (3xx is not 2xx), never followed (undici's
// request follows none): following one would send signed events wherever the endpoint (or
// whoever took over its DNS) points.
async function sendOnce(dispatcher: Dispatcher, options: SendOptions): Promise<Answer> {
  if (options.signal?.aborted) throw abortReason(options.signal.reason);
  const abort = new RequestAbort();
  const leave = options.signal ? underSignal(options.signal, abort) : undefined;
  // The whole exchange, not just socket inactivity, must fit in the endpoint's timeout.
  const timer = setTimeout(() => abort.abort(new TimeoutError()), options.timeoutMs);
  try {
    let response: Dispatcher.ResponseData;
    try {
      response = await dispatcher.request({
        method: 'POST',
        path: options.path,
        headers: options.headers,
        body: options.body,
        signal: abort,
        // Backstops only: the timer above ends the exchange first.
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      });
    } catch (err) {
      if (abort.reason !== undefined) throw abort.reason;
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && STALE_CONNECTION_CODES.has(code)) throw new StaleConnectionError(describeError(err), { cause: err });
      throw err;
    }
    const retryAfter = response.headers['retry-after'];
    return {
      status: response.statusCode,
      body: await readHead(response.body, RESPONSE_BODY_LIMIT),
      ...(retryAfter !== undefined ? { retryAfter: Array.isArray(retryAfter) ? (retryAfter[0] ?? '') : retryAfter } : {}),
    };
  } finally {
    clearTimeout(timer);
    leave?.();
  }
}

function abortReason(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(`request aborted: ${String(reason)}`);
}

function deliveryHeaders(endpoint: PostableEndpoint, delivery: WebhookDelivery, timestampSeconds: number): Record<string, string> {
  const headers: Record<string, string> = {};
  // The endpoint's own headers first, lower-cased, so none of the webhook ones can be forged;
  // framing and connection headers are the client's (an endpoint stored before they were refused
  // at registration must not make every request fail).
  for (const [name, value] of Object.entries(endpoint.headers)) {
    const lower = name.toLowerCase();
    if (!RESERVED_ENDPOINT_HEADERS.has(lower)) headers[lower] = value;
  }
  headers['content-type'] = 'application/json';
  headers['user-agent'] = USER_AGENT;
  headers['webhook-id'] = delivery.eventId;
  headers['webhook-timestamp'] = String(timestampSeconds);
  headers['webhook-signature'] = signWebhookWithEach(signingSecrets(endpoint), delivery.eventId, timestampSeconds, delivery.body);
  return headers;
}

/**
 * Reads at most `limit` bytes of the body, then drops the rest (destroying the body closes its
 * connection), so a huge (or endless) response costs nothing. A body that fails mid-read keeps
 * what arrived: the status already decided.
 */
async function readHead(body: Dispatcher.ResponseData['body'], limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size >= limit) break;
    }
  } catch {
    // Cut short (a timeout, a reset): what arrived is kept; the status already decided the outcome.
  }
  if (!body.destroyed && size >= limit) body.destroy();
  if (size === 0) return '';
  const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  let end = Math.min(limit, bytes.length);
  // Cut at a character boundary so the text never ends in half a UTF-8 sequence.
  while (end > 0 && end < bytes.length && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && !err.message.includes(code) ? `${code} ${err.message}` : err.message;
}
