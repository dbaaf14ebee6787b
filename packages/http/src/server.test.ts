import { Writable } from 'node:stream';
import { createLogger, createMetricsRegistry } from '@switchyard/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { HttpError } from './http-error.ts';
import { errorResponseSchema, ok, successResponse } from './response.ts';
import { createHttpServer, listen, type HttpServer } from './server.ts';

const servers: HttpServer[] = [];
const logLines: string[] = [];
const logSink = new Writable({
  write(chunk: Buffer, _encoding, callback) {
    logLines.push(chunk.toString('utf8'));
    callback();
  },
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start(readiness: () => Promise<Record<string, boolean>> = async () => ({ nats: true })) {
  const server = await createHttpServer({
    service: 'persistence',
    logger: createLogger({ service: 'persistence', level: 'error', destination: logSink }),
    registry: createMetricsRegistry('persistence'),
    readiness,
    openapi: { title: 'Persistence API', version: '1.0.0', description: 'query and replay' },
    bodyLimit: 1024,
  });
  server.post(
    '/v1/widgets',
    {
      schema: {
        summary: 'Create a widget',
        body: z.object({ name: z.string().min(1), count: z.number().int() }),
        response: { 201: successResponse(z.object({ id: z.string() })), 400: errorResponseSchema },
      },
    },
    async (request, reply) => reply.code(201).send(ok({ id: `w-${request.body.name}` })),
  );
  server.get('/v1/teapot', async () => {
    throw new HttpError(418, 'TEAPOT', 'short and stout');
  });
  server.get('/v1/crash', async () => {
    throw new Error('db password is hunter2');
  });
  servers.push(server);
  const { url } = await listen(server, { host: '127.0.0.1', port: 0 });
  return url;
}

const postJson = (url: string, body: string, contentType = 'application/json') =>
  fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body });

describe('built-in routes', () => {
  it('answers liveness, readiness and metrics', async () => {
    const url = await start();
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, checks: { nats: true } });
    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toContain('service="persistence"');
  });

  it('answers 503 when a check fails or readiness throws', async () => {
    const url = await start(async () => ({ nats: true, postgres: false }));
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ ready: false, checks: { nats: true, postgres: false } });
    const throwing = await start(async () => Promise.reject(new Error('boom')));
    expect((await fetch(`${throwing}/readyz`)).status).toBe(503);
  });
});

describe('error envelope', () => {
  it('wraps success', async () => {
    const url = await start();
    const response = await postJson(`${url}/v1/widgets`, JSON.stringify({ name: 'a', count: 1 }));
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ success: true, data: { id: 'w-a' } });
  });

  it.each([
    ['malformed JSON', '{"name": ', 'application/json', 400, 'MALFORMED_JSON'],
    ['empty JSON body', '', 'application/json', 400, 'MALFORMED_JSON'],
    ['unsupported content type', 'name=a', 'application/x-www-form-urlencoded', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['body too large', JSON.stringify({ name: 'x'.repeat(2048), count: 1 }), 'application/json', 413, 'PAYLOAD_TOO_LARGE'],
  ])('%s → %i %s', async (_label, body, contentType, status, code) => {
    const url = await start();
    const response = await postJson(`${url}/v1/widgets`, body, contentType);
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject({ success: false, error: { code } });
  });

  it('names the invalid field', async () => {
    const url = await start();
    const response = await postJson(`${url}/v1/widgets`, JSON.stringify({ name: '', count: 1.5 }));
    expect(response.status).toBe(400);
    const body = (await response.json()) as { success: boolean; error: { code: string; message: string } };
    expect(body.error.code).toBe('VALIDATION_FAILED');
    expect(body.error.message).toContain('body.name');
    expect(body.error.message).toContain('body.count');
  });

  it('maps HttpError, unknown routes and unexpected errors', async () => {
    const url = await start();
    const teapot = await fetch(`${url}/v1/teapot`);
    expect(teapot.status).toBe(418);
    expect(await teapot.json()).toEqual({ success: false, error: { code: 'TEAPOT', message: 'short and stout' } });
    const missing = await fetch(`${url}/v1/nope?x=1`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ success: false, error: { code: 'NOT_FOUND', message: 'route GET /v1/nope not found' } });
    const crash = await fetch(`${url}/v1/crash`);
    expect(crash.status).toBe(500);
    const text = await crash.text();
    expect(JSON.parse(text)).toEqual({ success: false, error: { code: 'INTERNAL', message: 'internal error' } });
    expect(text).not.toContain('hunter2');
    expect(logLines.join('')).toContain('db password is hunter2');
  });
});

describe('OpenAPI', () => {
  it('documents zod-declared routes at /docs/json', async () => {
    const url = await start();
    const response = await fetch(`${url}/docs/json`);
    expect(response.status).toBe(200);
    const doc = (await response.json()) as {
      openapi: string;
      info: { title: string };
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: object } }> } }>>;
    };
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBe('Persistence API');
    const post = doc.paths['/v1/widgets']?.post;
    expect(Object.keys(post?.requestBody?.content['application/json']?.schema.properties ?? {})).toEqual(['name', 'count']);
    expect(doc.paths['/healthz']).toBeUndefined();
  });
});
