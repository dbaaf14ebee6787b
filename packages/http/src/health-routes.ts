import type { Logger, Registry } from '@switchyard/runtime';
import type { FastifyInstance } from 'fastify';

export type Readiness = () => Promise<Record<string, boolean>>;

/** Liveness, readiness and Prometheus scrape: public, outside the success/error envelope. */
export function registerHealthRoutes(
  app: FastifyInstance,
  options: { readiness: Readiness; registry: Registry; logger: Logger },
): void {
  const hide = { schema: { hide: true } };
  app.get('/healthz', hide, async () => ({ status: 'ok' }));
  app.get('/readyz', hide, async (_request, reply) => {
    const checks = await runReadiness(options.readiness, options.logger);
    const ready = Object.keys(checks).length > 0 && Object.values(checks).every(Boolean);
    return reply.code(ready ? 200 : 503).send({ ready, checks });
  });
  app.get('/metrics', hide, async (_request, reply) => {
    const body = await options.registry.metrics();
    return reply.header('content-type', options.registry.contentType).send(body);
  });
}

async function runReadiness(readiness: Readiness, logger: Logger): Promise<Record<string, boolean>> {
  try {
    return await readiness();
  } catch (err) {
    // A readiness probe that throws means "not ready", never a 500 that hides the reason.
    logger.warn({ err }, 'readiness check threw');
    return { readiness: false };
  }
}
