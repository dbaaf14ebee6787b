import { z } from 'zod';
import { envInt, loadConfig } from '@switchyard/runtime';
import { serviceEnv } from '@switchyard/service';

export const routerConfigSchema = z.object({
  ...serviceEnv(8082),
  /** Larger INGEST payloads are dead-lettered with PAYLOAD_TOO_LARGE instead of being routed. */
  ROUTER_MAX_PAYLOAD_BYTES: envInt({ min: 1024, max: 64 * 1024 * 1024, default: 1024 * 1024 }).describe(
    'Largest INGEST message the router accepts, in bytes',
  ),
  /** Deliveries of one INGEST message before it is dead-lettered (NATS or handler trouble). */
  ROUTER_MAX_DELIVER: envInt({ min: 1, max: 100, default: 5 }).describe('Deliveries before an INGEST message is dead-lettered'),
});
export type RouterConfig = z.infer<typeof routerConfigSchema>;

export function loadRouterConfig(env: NodeJS.ProcessEnv = process.env): RouterConfig {
  return loadConfig(routerConfigSchema, env, { service: 'router' });
}
