import { z } from 'zod';
import { envDuration, envEnum, envInt, envString, loadConfig } from '@switchyard/runtime';
import { DEFAULT_SPOOL_DIR } from './spool.ts';
import { serviceEnv } from '@switchyard/service';

export const captureConfigSchema = z
  .object({
    ...serviceEnv(8081),
    /** How long one INGEST publish waits for its PubAck before it counts as failed and is retried. */
    CAPTURE_PUBLISH_TIMEOUT: envDuration('5s').describe('PubAck wait per INGEST publish attempt'),
    /** INGEST publishes of one instance awaiting their PubAck at once (sent in seq order on one connection). */
    CAPTURE_PUBLISH_WINDOW: envInt({ min: 1, max: 65_536, default: 256 }).describe(
      'PubAcks in flight per instance',
    ),
    /**
     * Where each instance's local spool lives: every captured event is appended here before
     * anything else, so a SIGKILL loses nothing. Must survive a container restart (an emptyDir
     * in Kubernetes); replayed into the outbox at start.
     */
    CAPTURE_SPOOL_DIR: envString(DEFAULT_SPOOL_DIR).describe('Directory of the local capture spool'),
    /** `always`: fsync after every spool append, so events survive a power loss too (a disk flush per batch). */
    CAPTURE_SPOOL_FSYNC: envEnum(['never', 'always'], 'never').describe(
      'fsync policy of the capture spool',
    ),
    /** First delay after a failed publish or seq allocation; doubles per attempt. */
    CAPTURE_RETRY_INITIAL: envDuration('100ms').describe(
      'First backoff after a failed INGEST publish',
    ),
    /** Ceiling of the retry backoff; failed publishes keep retrying at this pace, never dropped. */
    CAPTURE_RETRY_MAX: envDuration('5s').describe('Longest backoff between INGEST publish retries'),
    /** A session's first reconnect delay after an unexpected close; doubles per failed attempt, with jitter. */
    CAPTURE_RECONNECT_INITIAL: envDuration('1s').describe(
      'First WhatsApp reconnect backoff after an unexpected close',
    ),
    /** Ceiling of the reconnect backoff, so thousands of flapping sessions never storm WhatsApp. */
    CAPTURE_RECONNECT_MAX: envDuration('60s').describe('Longest WhatsApp reconnect backoff'),
    /**
     * Lifetime of an instance lease (and replica heartbeat) in NATS KV. A dead replica's instances
     * are taken over within about this plus CAPTURE_CLAIM_INTERVAL; renewals go out every quarter
     * of it and a socket is closed when no renewal succeeded for half of it.
     */
    CAPTURE_LEASE_TTL: envDuration('10s').describe(
      'Instance lease TTL; failover takes about this plus the claim interval',
    ),
    /** How often a replica looks for unowned instances (and re-reads the sessions to run). */
    CAPTURE_CLAIM_INTERVAL: envDuration('2s').describe('How often unowned instances are claimed'),
    /** While a replica holds more than its fair share, it hands over one instance per this interval. */
    CAPTURE_REBALANCE_INTERVAL: envDuration('10s').describe(
      'At most one instance handed over per interval when above the fair share',
    ),
    /** This replica's id in leases and heartbeats; defaults to the host name plus a random suffix. */
    CAPTURE_REPLICA_ID: envString()
      .optional()
      .describe('Replica id for leases (default: hostname and a random suffix)'),
  })
  .superRefine((config, ctx) => {
    if (config.CAPTURE_RETRY_INITIAL > config.CAPTURE_RETRY_MAX) {
      ctx.addIssue({
        code: 'custom',
        path: ['CAPTURE_RETRY_INITIAL'],
        message: 'must not exceed CAPTURE_RETRY_MAX',
      });
    }
    if (config.CAPTURE_RECONNECT_INITIAL > config.CAPTURE_RECONNECT_MAX) {
      ctx.addIssue({
        code: 'custom',
        path: ['CAPTURE_RECONNECT_INITIAL'],
        message: 'must not exceed CAPTURE_RECONNECT_MAX',
      });
    }
    // Renewals every TTL/4 and the half-TTL watchdog need room, and NATS KV counts max_age in whole seconds.
    if (config.CAPTURE_LEASE_TTL < 2_000) {
      ctx.addIssue({ code: 'custom', path: ['CAPTURE_LEASE_TTL'], message: 'must be at least 2s' });
    }
    if (config.CAPTURE_REPLICA_ID !== undefined && !/^[a-zA-Z0-9_-]{1,64}$/.test(config.CAPTURE_REPLICA_ID)) {
      ctx.addIssue({
        code: 'custom',
        path: ['CAPTURE_REPLICA_ID'],
        message: 'must be 1-64 letters, digits, _ or - (it is part of a NATS KV key)',
      });
    }
    if (config.CAPTURE_CLAIM_INTERVAL >= config.CAPTURE_LEASE_TTL) {
      ctx.addIssue({
        code: 'custom',
        path: ['CAPTURE_CLAIM_INTERVAL'],
        message: 'must be shorter than CAPTURE_LEASE_TTL',
      });
    }
  });
export type CaptureConfig = z.infer<typeof captureConfigSchema>;

export function loadCaptureConfig(env: NodeJS.ProcessEnv = process.env): CaptureConfig {
  return loadConfig(captureConfigSchema, env, { service: 'capture' });
}
