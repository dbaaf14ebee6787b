import { z } from 'zod';
import { envEnum, envInt, loadConfig } from '@switchyard/runtime';
import { serviceEnv } from '@switchyard/service';

export const routerConfigSchema = z.object({
  ...serviceEnv(8082),
  /** Larger INGEST payloads are dead-lettered with PAYLOAD_TOO_LARGE instead of being routed. */
  ROUTER_MAX_PAYLOAD_BYTES: envInt({ min: 1024, max: 64 * 1024 * 1024, default: 1024 * 1024 }).describe(
    'Largest INGEST message the router accepts, in bytes',
  ),
  /** Deliveries of one INGEST message before it is dead-lettered (NATS or handler trouble). */
  ROUTER_MAX_DELIVER: envInt({ min: 1, max: 100, default: 5 }).describe('Deliveries before an INGEST message is dead-lettered'),
  /**
   * Messages of one tenant in flight across all router replicas. 1 keeps per-instance order
   * from INGEST to EVENTS with any number of replicas (and across retries); more trades that
   * order for per-tenant throughput — only safe with a single replica and no retries.
   */
  ROUTER_MAX_ACK_PENDING: envInt({ min: 1, max: 10_000, default: 1 }).describe(
    'INGEST messages of one tenant in flight across all router replicas (1 = strict per-instance order)',
  ),
  /**
   * `auto`: separate history durables on NATS ≥ 2.10 (filter lists), one durable per tenant
   * before. `single` forces one durable per tenant — see docs/architecture.md for the cost of
   * filter lists with many tenants.
   */
  ROUTER_INGEST_LAYOUT: envEnum(['auto', 'split', 'single'], 'auto').describe(
    'auto | split (realtime and history durables per tenant) | single (one durable per tenant)',
  ),
  /** History batches of one tenant routed at once per replica; they need no order (app.ts). */
  ROUTER_HISTORY_CONCURRENCY: envInt({ min: 1, max: 64, default: 4 }).describe(
    'history.* batches of one tenant routed concurrently per router replica',
  ),
});
export type RouterConfig = z.infer<typeof routerConfigSchema>;

export function loadRouterConfig(env: NodeJS.ProcessEnv = process.env): RouterConfig {
  return loadConfig(routerConfigSchema, env, { service: 'router' });
}
