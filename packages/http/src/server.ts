import type { AddressInfo } from 'node:net';
import fastifySwagger, { type SwaggerTransform } from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { Logger, Registry } from '@switchyard/runtime';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { authHook } from './auth.ts';
import { cachedVerifier, type VerifyApiKey } from './api-key-cache.ts';
import { handleError, handleNotFound } from './error-handler.ts';
import { registerHealthRoutes, type Readiness } from './health-routes.ts';
import './fastify-types.ts';

/** A fastify instance whose route schemas are zod schemas (typed request and reply). */
export type HttpServer = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

export interface CreateHttpServerOptions {
  service: string;
  logger: Logger;
  registry: Registry;
  /** Named checks, e.g. `{ nats: true, postgres: false }`; any false (or a throw) answers 503. */
  readiness: Readiness;
  /** Required for routes declaring `config.auth`; verifications are cached (see `apiKeyCacheTtlMs`). */
  verifyApiKey?: VerifyApiKey;
  /** How long a successful key verification is reused; a revoked key works at most this long. Default 5s. */
  apiKeyCacheTtlMs?: number;
  openapi?: { title: string; version: string; description?: string };
  /** Maximum request body in bytes (fastify default 1 MiB); larger bodies answer 413. */
  bodyLimit?: number;
}

/**
 * The HTTP surface every service shares: /healthz, /readyz, /metrics, OpenAPI at /docs, zod
 * route schemas, one error envelope, API-key auth. Add routes, then `listen()`.
 */
export async function createHttpServer(options: CreateHttpServerOptions): Promise<HttpServer> {
  // Widened on purpose: fastify then types request.log as its base logger, matching HttpServer.
  const loggerInstance: FastifyBaseLogger = options.logger;
  const app = Fastify({
    loggerInstance,
    // Per-request logs go out at debug (below), not fastify's default info.
    logController: new LogController({ disableRequestLogging: true }),
    ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(handleNotFound);
  app.decorateRequest('principal', null);
  app.addHook('onRequest', authHook(requireVerifier(options)));
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
  });
  await registerDocs(app, options);
  registerHealthRoutes(app, options);
  return app;
}

function requireVerifier(options: CreateHttpServerOptions): VerifyApiKey {
  if (!options.verifyApiKey) {
    // Fail closed: a route declaring auth on a server built without a verifier rejects every key.
    return async () => null;
  }
  return cachedVerifier(options.verifyApiKey, { ttlMs: options.apiKeyCacheTtlMs ?? 5_000 });
}

async function registerDocs(app: HttpServer, options: CreateHttpServerOptions): Promise<void> {
  const info = options.openapi ?? { title: options.service, version: '0.0.0' };
  await app.register(fastifySwagger, {
    openapi: {
      info,
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
    },
    transform: documentAuth,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
}

// Routes that declare `config.auth` show up in the OpenAPI document as needing a key.
const documentAuth: SwaggerTransform = (input) => {
  const result = jsonSchemaTransform(input);
  if (!input.route.config?.auth) return result;
  return { ...result, schema: { ...result.schema, security: [{ bearer: [] }, { apiKey: [] }] } };
};

export interface BoundAddress {
  host: string;
  port: number;
  /** Loopback URL for wildcard binds, so tests and local tools can call it directly. */
  url: string;
}

/** Starts listening; pass port 0 for a free port (tests). */
export async function listen(server: FastifyInstance | HttpServer, options: { host: string; port: number }): Promise<BoundAddress> {
  await server.listen({ host: options.host, port: options.port });
  const address = server.server.address() as AddressInfo;
  const reachable = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address;
  const hostForUrl = reachable.includes(':') ? `[${reachable}]` : reachable;
  return { host: address.address, port: address.port, url: `http://${hostForUrl}:${address.port}` };
}
