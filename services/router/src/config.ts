import { z } from 'zod';
import { envDuration, envEnum, envInt, loadConfig } from '@switchyard/runtime';
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
   * Realtime INGEST messages of one tenant in flight (delivered, not yet acked). Only the replica
   * owning the tenant's partition reads them, so order per instance holds with many in flight.
   */
  ROUTER_MAX_ACK_PENDING: envInt({ min: 1, max: 100_000, default: 1024 }).describe(
    'Realtime INGEST messages of one tenant in flight (max_ack_pending of router_<tenant>)',
  ),
  /**
   * Realtime messages validated and published together. A batch of 64 or more goes to EVENTS as
   * atomic batches (one PubAck per batch); a smaller one is published with every PubAck in flight.
   * A batch is validated in one event-loop turn, so a tenant's backlog batch delays the other
   * tenants' by that long (~5 ms for 256). Batches only fill up when a tenant has a backlog: the
   * loop takes what has arrived and never waits for more. 256 drains a backlog ~30% faster than
   * 64 (`pnpm bench router`, tenants_10_drain); the quiet tenants' p99 under a flood measured the
   * same with both (noisy: ×1.2–2.8 of their baseline either way).
   */
  ROUTER_BATCH_SIZE: envInt({ min: 1, max: 1_000, default: 256 }).describe(
    'Realtime INGEST messages of one tenant routed per batch (a full batch, when it is 64 or more, goes to EVENTS as atomic batches: a backlog)',
  ),
  /**
   * ack_wait of the realtime durables: after a replica dies, its unacked messages come back
   * after this (the takeover fence waits for them), so it bounds failover together with the lease.
   */
  ROUTER_ACK_WAIT: envDuration('5s').describe('ack_wait of the realtime durables (redelivery after a replica died)'),
  /** Partitions the tenants are hashed into; each is owned by one replica at a time. Fixed per deployment. */
  ROUTER_PARTITIONS: envInt({ min: 1, max: 4096, default: 64 }).describe(
    'Partitions of tenants for realtime ownership (change only with every replica stopped)',
  ),
  /** Lease TTL of a partition in NATS KV: a dead replica's partitions move after about this. */
  ROUTER_LEASE_TTL: envDuration('10s').describe('Partition lease TTL; a dead replica\'s tenants move after about this plus ROUTER_ACK_WAIT/2'),
  /** While a replica holds more than its fair share, it hands over partitions at most this often. */
  ROUTER_REBALANCE_INTERVAL: envDuration('5s').describe('Interval between partition hand-overs while above the fair share'),
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
}).superRefine((config, ctx) => {
  if (config.ROUTER_BATCH_SIZE > config.ROUTER_MAX_ACK_PENDING) {
    ctx.addIssue({ code: 'custom', path: ['ROUTER_BATCH_SIZE'], message: 'must not exceed ROUTER_MAX_ACK_PENDING (a batch could never fill)' });
  }
  if (config.ROUTER_LEASE_TTL < 1_000) {
    ctx.addIssue({ code: 'custom', path: ['ROUTER_LEASE_TTL'], message: 'must be at least 1s' });
  }
});
export type RouterConfig = z.infer<typeof routerConfigSchema>;

export function loadRouterConfig(env: NodeJS.ProcessEnv = process.env): RouterConfig {
  return loadConfig(routerConfigSchema, env, { service: 'router' });
}
