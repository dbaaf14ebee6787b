import { z } from 'zod';
import { envBool, envDuration, envDurationList, envInt, envValue, loadConfig } from '@switchyard/runtime';
import { serviceEnv } from '@switchyard/service';
import { parseAllowList, type AllowList } from './ssrf-guard.ts';

const allowList = envValue<AllowList>((raw) => {
  try {
    return parseAllowList(raw);
  } catch {
    return undefined;
  }
}, 'expected comma-separated host names, IPs or CIDRs (e.g. 127.0.0.1,10.0.0.0/8,hooks.internal)', '');

export const webhookDispatchConfigSchema = z
  .object({
    ...serviceEnv(8085),
    /** Endpoints are re-read at most this often per tenant; an edit made elsewhere (CLI) takes up to this long to apply. */
    WEBHOOK_ENDPOINT_CACHE_TTL: envDuration('5s').describe('How long a tenant\'s endpoint list is cached (0s disables the cache)'),
    /** The n-th entry is the wait after the n-th failed attempt; one more attempt follows the last. */
    WEBHOOK_RETRY_DELAYS: envDurationList('0s,10s,30s,2m,5m,15m').describe(
      'Default retry schedule of an endpoint (waits between attempts); after the last attempt the delivery is dead-lettered',
    ),
    /** Hosts, IPs or CIDRs that endpoints may reach although they are private, loopback or link-local. */
    WEBHOOK_ALLOWED_HOSTS: allowList.describe(
      'SSRF allow-list: comma-separated host names, IPs or CIDRs endpoints may use despite being private/loopback/link-local (empty: public addresses only)',
    ),
    /** A hanging receiver holds only its own slots; this bounds what one endpoint asks of it. */
    WEBHOOK_ENDPOINT_CONCURRENCY: envInt({ min: 1, max: 1000, default: 8 }).describe('Default requests in flight per endpoint'),
    /** 0 leaves the rate to the concurrency limit alone. */
    WEBHOOK_ENDPOINT_RATE_LIMIT: envInt({ min: 0, max: 100_000, default: 0 }).describe('Default requests started per second per endpoint (0: no rate limit)'),
    /** Deliveries pulled per endpoint and waiting in per-instance order; bounds memory per endpoint. */
    WEBHOOK_ENDPOINT_WINDOW: envInt({ min: 1, max: 10_000, default: 256 }).describe('Deliveries held in memory per endpoint (queued behind their instance\'s earlier events)'),
    /** Each batch costs one round trip to WEBHOOKS however many events it holds; bounds the PubAcks in flight per tenant. */
    WEBHOOK_FANOUT_BATCH_SIZE: envInt({ min: 1, max: 1000, default: 256 }).describe('EVENTS messages fanned out per batch (stored in WEBHOOKS as atomic batches when there are 64 deliveries or more)'),
    /** Only waited once a batch has its first event and the next are not there yet: the latency a quiet tenant pays. */
    WEBHOOK_FANOUT_BATCH_WAIT: envDuration('5ms').describe('How long a fan-out batch waits for more events after its first'),
    /**
     * Only a WEBHOOKS message's ack waits for its record, never the receiver; 0 writes each record
     * as soon as no other statement of its tenant is in flight.
     */
    WEBHOOK_LOG_BATCH_WAIT: envDuration('5ms').describe('How long a delivery attempt\'s record waits to share one delivery-log statement with others (fewer, larger statements: less Postgres CPU per delivery)'),
    /** Fixed per deployment: a tenant's partition is a hash of its id modulo this. */
    WEBHOOK_PARTITIONS: envInt({ min: 1, max: 4096, default: 64 }).describe(
      'Partitions of tenants for fan-out and delivery ownership across replicas (change only with every replica stopped)',
    ),
    /** A dead replica's tenants move after about this, plus the takeover fence (up to WEBHOOK_ACK_WAIT). */
    WEBHOOK_LEASE_TTL: envDuration('10s').describe('Partition lease TTL: how long a dead replica\'s tenants wait before another replica takes them'),
    /**
     * A crashed replica's deliveries (and events being fanned out) return to the next owner after
     * this; a live one keeps extending it (`working()` every half of it), however long a receiver
     * takes. So it bounds the takeover of a dead replica's tenants, not the length of a delivery.
     */
    WEBHOOK_ACK_WAIT: envDuration('10s').describe('How long a delivery, or an event being fanned out, stays with a replica that stopped heartbeating before another gets it'),
    /** The longest `Retry-After` honoured; a receiver asking for more gets retried after this. */
    WEBHOOK_RETRY_AFTER_MAX: envDuration('1h').describe('Upper bound on a receiver\'s Retry-After (429/503)'),
    /**
     * Deliveries that ended (delivered or exhausted) leave the log this long after their last
     * attempt, with their attempts; pending and retrying ones stay. Bounds the log's size, and how
     * far back the delivery-log API and "re-send what failed since T" reach.
     */
    WEBHOOK_LOG_RETENTION: envDuration('30d').describe('How long a finished delivery and its attempts stay in the delivery log (0s: forever)'),
    WEBHOOK_LOG_RETENTION_INTERVAL: envDuration('1h').describe('How often the delivery-log retention job runs over every tenant'),
    /** CB_*: names kept from the platform's earlier dispatcher so existing runbooks still apply. */
    CB_ENABLED: envBool(true).describe('Per-endpoint circuit breaker on or off'),
    CB_MAX_FAILURES: envInt({ min: 1, max: 1000, default: 5 }).describe('Consecutive failed attempts (5xx, timeout, network) that open an endpoint\'s circuit'),
    CB_COOLDOWN: envDuration('30s').describe('How long an open circuit waits before letting one probe through (half-open)'),
  })
  .superRefine((config, ctx) => {
    if (config.WEBHOOK_RETRY_DELAYS.length > 99) {
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_RETRY_DELAYS'], message: 'at most 99 retry delays' });
    }
    if (config.WEBHOOK_LEASE_TTL < 1_000) {
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_LEASE_TTL'], message: 'at least 1s, so leases can be renewed in time' });
    }
    if (config.WEBHOOK_LOG_RETENTION > 0 && config.WEBHOOK_LOG_RETENTION < 3_600_000) {
      // A delivery's row is what keeps a redelivered WEBHOOKS message from being sent again.
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_LOG_RETENTION'], message: 'at least 1h (or 0s to keep the log forever)' });
    }
    if (config.WEBHOOK_LOG_RETENTION_INTERVAL < 1_000) {
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_LOG_RETENTION_INTERVAL'], message: 'at least 1s' });
    }
    if (config.WEBHOOK_ACK_WAIT < 1_000) {
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_ACK_WAIT'], message: 'at least 1s, so heartbeats can keep a delivery' });
    }
  });
export type WebhookDispatchConfig = z.infer<typeof webhookDispatchConfigSchema>;

/** Attempts of one delivery: the first one plus one per retry delay. */
export function webhookMaxDeliver(config: Pick<WebhookDispatchConfig, 'WEBHOOK_RETRY_DELAYS'>): number {
  return config.WEBHOOK_RETRY_DELAYS.length + 1;
}

export function loadWebhookDispatchConfig(env: NodeJS.ProcessEnv = process.env): WebhookDispatchConfig {
  return loadConfig(webhookDispatchConfigSchema, env, { service: 'webhook-dispatch' });
}
