import type { Endpoint } from '@switchyard/db';
import { signWebhook } from './signature.ts';

/** How one HTTP delivery ended; `delivered` means a 2xx answer and nothing else does. */
export type DeliveryOutcome = 'delivered' | 'http_error' | 'timeout' | 'network_error';

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
}

export interface WebhookDelivery {
  /** The event id: the `webhook-id`, stable across retries so receivers can deduplicate. */
  eventId: string;
  /** The envelope exactly as it was on EVENTS. */
  body: Uint8Array;
}

export const RESPONSE_BODY_LIMIT = 1024;
const USER_AGENT = 'Switchyard-Webhooks/1';

/**
 * POSTs one event to one endpoint, signed per Standard Webhooks. Never throws: every failure is
 * a result, because the caller decides between retry and dead-letter for the event as a whole.
 */
export async function postWebhook(endpoint: Endpoint, delivery: WebhookDelivery): Promise<DeliveryResult> {
  const timestampSeconds = Math.floor(Date.now() / 1000);
  // The SSRF guard plugs in here: resolve endpoint.url and refuse private, loopback and
  // link-local addresses (pinning the checked address for the connection) before any byte leaves.
  const started = performance.now();
  const base = { endpointId: endpoint.id, timestampSeconds };
  try {
    const headers = deliveryHeaders(endpoint, delivery, timestampSeconds);
    const response = await fetch(endpoint.url, {
      method: 'POST',
      headers,
      body: delivery.body,
      // A redirect is a failure to deliver, not an instruction: following it would send signed
      // events wherever the endpoint (or whoever took over its DNS) points.
      redirect: 'manual',
      signal: AbortSignal.timeout(endpoint.timeoutMs),
    });
    const responseBody = await readHead(response, RESPONSE_BODY_LIMIT);
    const latencyMs = Math.round(performance.now() - started);
    const ok = response.status >= 200 && response.status < 300;
    return {
      ...base,
      outcome: ok ? 'delivered' : 'http_error',
      ok,
      status: response.status,
      latencyMs,
      responseBody,
      ...(ok ? {} : { error: `HTTP ${response.status}` }),
    };
  } catch (err) {
    const latencyMs = Math.round(performance.now() - started);
    const timedOut = err instanceof Error && err.name === 'TimeoutError';
    return {
      ...base,
      outcome: timedOut ? 'timeout' : 'network_error',
      ok: false,
      latencyMs,
      error: timedOut ? `no response within ${endpoint.timeoutMs} ms` : describeFetchError(err),
    };
  }
}

function deliveryHeaders(endpoint: Endpoint, delivery: WebhookDelivery, timestampSeconds: number): Headers {
  const headers = new Headers(endpoint.headers);
  // Set after the endpoint's own headers, so a custom header can never forge these.
  headers.set('content-type', 'application/json');
  headers.set('user-agent', USER_AGENT);
  headers.set('webhook-id', delivery.eventId);
  headers.set('webhook-timestamp', String(timestampSeconds));
  headers.set('webhook-signature', signWebhook(endpoint.secret, delivery.eventId, timestampSeconds, delivery.body));
  return headers;
}

/**
 * Reads at most `limit` bytes of the body, then drops the rest, so a huge (or endless) response
 * costs nothing. A body that fails mid-read keeps what arrived: the status already decided the outcome.
 */
async function readHead(response: Response, limit: number): Promise<string> {
  if (response.body === null) return '';
  // Fetch types its body stream loosely; it always yields bytes.
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // Keep what arrived.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const bytes = Buffer.concat(chunks);
  let end = Math.min(limit, bytes.length);
  // Cut at a character boundary so the text never ends in half a UTF-8 sequence.
  while (end > 0 && end < bytes.length && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

// undici reports "fetch failed" and hides the useful part (ECONNREFUSED, ENOTFOUND…) in `cause`.
function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return `${err.message}: ${typeof code === 'string' ? `${code} ` : ''}${cause.message}`;
  }
  return err.message;
}
