import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Endpoint } from '@switchyard/db';
import { startHttpReceiver, type HttpReceiver } from '@switchyard/testing';
import { EndpointConnections } from './endpoint-connections.ts';
import { postWebhook, RESPONSE_BODY_LIMIT } from './post-webhook.ts';
import { parseAllowList } from './ssrf-guard.ts';

describe('postWebhook', () => {
  let receiver: HttpReceiver;
  // The receiver listens on loopback, which the SSRF guard refuses unless allowed.
  const allow = parseAllowList('127.0.0.1');
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const body = new TextEncoder().encode('{"id":"evt-1","type":"message.received"}');

  function endpoint(overrides: Partial<Endpoint> = {}): Endpoint {
    const at = new Date();
    return {
      id: 'ep_1',
      tenant: 'acme',
      url: `${receiver.url}/hook`,
      eventTypes: ['*'],
      enabled: true,
      secret,
      headers: {},
      timeoutMs: 5_000,
      retryDelaysMs: null,
      maxConcurrency: null,
      rateLimitPerSecond: null,
      previousSecret: null,
      previousSecretExpiresAt: null,
      disabledReason: null,
      createdAt: at,
      updatedAt: at,
      ...overrides,
    };
  }

  beforeAll(async () => {
    receiver = await startHttpReceiver();
  });
  beforeEach(() => {
    receiver.requests.length = 0;
    receiver.respondWith(() => ({ status: 204 }));
  });
  afterAll(() => receiver.close());

  it('sends the body signed, with custom headers that cannot override the webhook ones', async () => {
    const headers = { authorization: 'Bearer t0ken', 'webhook-id': 'forged', 'content-type': 'text/plain' };
    const result = await postWebhook(endpoint({ headers }), { eventId: 'evt-1', body }, { allow });
    expect(result).toMatchObject({ endpointId: 'ep_1', outcome: 'delivered', ok: true, status: 204 });
    const [request] = receiver.requests;
    expect(request?.method).toBe('POST');
    expect(request?.body).toBe(new TextDecoder().decode(body));
    expect(request?.headers['authorization']).toBe('Bearer t0ken');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['webhook-id']).toBe('evt-1');
    expect(request?.headers['webhook-timestamp']).toBe(String(result.timestampSeconds));
    const signed = {
      'webhook-id': String(request?.headers['webhook-id']),
      'webhook-timestamp': String(request?.headers['webhook-timestamp']),
      'webhook-signature': String(request?.headers['webhook-signature']),
    };
    expect(() => new Webhook(secret).verify(request?.body ?? '', signed)).not.toThrow();
  });

  it('leaves out framing and connection headers an endpoint stored before they were refused', async () => {
    const headers = { Connection: 'close', 'transfer-encoding': 'chunked', Expect: '100-continue', Host: 'elsewhere.test', 'x-kept': 'yes' };
    const result = await postWebhook(endpoint({ headers }), { eventId: 'evt-1', body }, { allow });
    expect(result).toMatchObject({ outcome: 'delivered', status: 204 });
    const [request] = receiver.requests;
    expect(request?.body).toBe(new TextDecoder().decode(body));
    expect(request?.headers['x-kept']).toBe('yes');
    expect(request?.headers.host).toBe(new URL(receiver.url).host);
    expect(request?.headers['transfer-encoding']).toBeUndefined();
    expect(request?.headers.expect).toBeUndefined();
  });

  it('counts only 2xx as delivered and keeps at most 1 KiB of the answer, cut on a character boundary', async () => {
    receiver.respondWith(() => ({ status: 500, body: 'é'.repeat(3_000) }));
    const result = await postWebhook(endpoint(), { eventId: 'evt-1', body }, { allow });
    expect(result).toMatchObject({ outcome: 'http_error', ok: false, status: 500, error: 'HTTP 500' });
    expect(Buffer.byteLength(result.responseBody ?? '')).toBe(RESPONSE_BODY_LIMIT);
    expect(result.responseBody).toBe('é'.repeat(RESPONSE_BODY_LIMIT / 2));
  });

  it('does not follow a redirect', async () => {
    receiver.respondWith((req) => (req.path === '/hook' ? { status: 307, headers: { location: `${receiver.url}/elsewhere` } } : { status: 200 }));
    const result = await postWebhook(endpoint(), { eventId: 'evt-1', body }, { allow });
    expect(result).toMatchObject({ outcome: 'http_error', ok: false, status: 307 });
    expect(receiver.requests.map((r) => r.path)).toEqual(['/hook']);
  });

  it('gives up after the endpoint timeout', async () => {
    receiver.respondWith(() => ({ status: 200, delayMs: 2_000 }));
    const result = await postWebhook(endpoint({ timeoutMs: 200 }), { eventId: 'evt-1', body }, { allow });
    expect(result).toMatchObject({ outcome: 'timeout', ok: false, error: 'no response within 200 ms' });
    expect(result.latencyMs).toBeLessThan(1_500);
  });

  it('reports an unreachable endpoint as a network error', async () => {
    const gone = await startHttpReceiver();
    await gone.close();
    const result = await postWebhook(endpoint({ url: `${gone.url}/hook` }), { eventId: 'evt-1', body }, { allow });
    expect(result).toMatchObject({ outcome: 'network_error', ok: false });
    expect(result.error).toContain('ECONNREFUSED');
  });

  it("keeps the endpoint's connections alive and reuses them, with the URL's host in Host; a closed pool falls back to one-off connections", async () => {
    const connections = new EndpointConnections({ maxSockets: 4 });
    for (let i = 0; i < 5; i++) {
      const result = await postWebhook(endpoint(), { eventId: `evt-${i}`, body }, { allow, connections });
      expect(result.outcome).toBe('delivered');
    }
    expect(receiver.requests.map((r) => r.headers['webhook-id'])).toEqual(['evt-0', 'evt-1', 'evt-2', 'evt-3', 'evt-4']);
    // Reused: undici may open a second connection while the first is finishing its exchange.
    expect(new Set(receiver.requests.map((r) => r.remotePort)).size).toBeLessThanOrEqual(2);
    expect(receiver.requests[0]?.headers.host).toBe(new URL(receiver.url).host);
    connections.close();
    const after = await postWebhook(endpoint(), { eventId: 'evt-5', body }, { allow, connections });
    expect(after.outcome).toBe('delivered');
    expect(receiver.requests.slice(0, 5).map((r) => r.remotePort)).not.toContain(receiver.requests[5]?.remotePort);
  });

  it('ends every request in flight when its stop signal aborts, and sends nothing once aborted', async () => {
    receiver.respondWith(() => ({ status: 200, delayMs: 5_000 }));
    const connections = new EndpointConnections({ maxSockets: 4 });
    const stop = new AbortController();
    const pending = [1, 2, 3].map((i) => postWebhook(endpoint(), { eventId: `evt-${i}`, body }, { allow, connections, signal: stop.signal }));
    await receiver.waitFor(3);
    stop.abort(new Error('worker stopping'));
    const results = await Promise.all(pending);
    expect(results.map((r) => r.outcome)).toEqual(['network_error', 'network_error', 'network_error']);
    expect(results.map((r) => r.error)).toEqual(['worker stopping', 'worker stopping', 'worker stopping']);
    expect(Math.max(...results.map((r) => r.latencyMs))).toBeLessThan(2_000);
    const late = await postWebhook(endpoint(), { eventId: 'evt-4', body }, { allow, connections, signal: stop.signal });
    expect(late).toMatchObject({ outcome: 'network_error', error: 'worker stopping' });
    expect(receiver.requests).toHaveLength(3);
    connections.close();
  });

  it('sends a pooled request once more when its connection is dropped before any answer; a one-off connection is not retried', async () => {
    // A receiver that drops the first connection of each pair without answering, and answers 204 on the next.
    let connections = 0;
    const requests: number[] = [];
    const flaky = createServer((socket: Socket) => {
      const n = ++connections;
      socket.once('data', () => {
        requests.push(n);
        if (n % 2 === 1) socket.destroy();
        else socket.end('HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n');
      });
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    const { port } = flaky.address() as { port: number };
    try {
      const url = `http://127.0.0.1:${port}/hook`;
      const pool = new EndpointConnections({ maxSockets: 2 });
      const pooled = await postWebhook(endpoint({ url }), { eventId: 'evt-1', body }, { allow, connections: pool });
      expect(pooled).toMatchObject({ outcome: 'delivered', status: 204 });
      expect(requests).toEqual([1, 2]);
      pool.close();
      const oneOff = await postWebhook(endpoint({ url }), { eventId: 'evt-2', body }, { allow });
      expect(oneOff.outcome).toBe('network_error');
      expect(requests).toEqual([1, 2, 3]);
    } finally {
      await new Promise<void>((resolve) => flaky.close(() => resolve()));
    }
  });
});
