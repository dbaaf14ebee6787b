import type { JetStreamClient } from 'nats';
import { forTenant, pgErrorCode, type Pool } from '@switchyard/db';
import { startLeaseOwnership, type LeaseOwnership, type ReleaseReason } from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import type { BackoffOptions } from './backoff.ts';
import { instanceLeaseKey, parseInstanceLeaseKey, type LeaseBucket } from './lease-bucket.ts';
import type { IngestBatcher } from './ingest-batcher.ts';
import type { Numbering } from './numbering.ts';
import type { CaptureMetrics } from './metrics.ts';
import { createSessionRunner, type SessionRunner } from './session-runner.ts';
import { listCaptureInstances } from './session-store.ts';
import type { SocketFactory } from './socket-factory.ts';
import type { SpoolSettings } from './spool.ts';

export interface SessionManagerOptions {
  js: JetStreamClient;
  /** The process's shared INGEST batcher, handed to every session's publisher. */
  ingest?: IngestBatcher;
  /** The replica's seq numbering (app.ts makes one); default: each instance its own. */
  numbering?: Numbering;
  pool: Pool;
  logger: Logger;
  metrics: CaptureMetrics;
  leases: LeaseBucket;
  /** This replica's id: its heartbeat key and the `owner` it records. */
  replicaId: string;
  /** The tenants to run sessions for (the tenant registry's current keys). */
  tenants: () => Promise<string[]>;
  socketFactory: SocketFactory;
  /** The leases' TTL (the bucket's max_age, which is what the ownership uses). Renewed every quarter of it. */
  leaseTtlMs: number;
  /** How often unowned instances are looked for. */
  claimIntervalMs: number;
  /** At most one instance is handed over per this interval while above the fair share. */
  rebalanceIntervalMs: number;
  reconnect: BackoffOptions;
  publishTimeoutMs: number;
  publishBackoff: BackoffOptions;
  /** PubAcks in flight per instance (CAPTURE_PUBLISH_WINDOW). */
  publishWindow?: number;
  /** The local spool every session appends to before anything else (CAPTURE_SPOOL_DIR). */
  spool?: SpoolSettings;
}

export interface SessionManager {
  start(): void;
  /** Reconciles an owned instance now (after an API change); a no-op for one owned elsewhere. */
  poke(tenant: string, instance: string): void;
  /** `tenant/instance` of every instance this replica holds a socket for. */
  openSockets(): string[];
  /** `tenant/instance` of every instance this replica holds the lease of. */
  owned(): string[];
  /** The runner of an owned instance (tests wait on its idle()). */
  runner(tenant: string, instance: string): SessionRunner | undefined;
  /** Drain: stops every session, then gives its lease up so another replica takes over at once. */
  stop(): Promise<void>;
  /** Tests: dies like a crashed process would — sockets gone, leases left to expire. */
  abandon(): Promise<void>;
}

/**
 * One socket per instance across replicas. Every instance of every announced tenant is held by
 * at most one replica through a lease in NATS KV; only the holder runs its session (socket,
 * adapter, outbox relay). Claiming, renewing, giving up and rebalancing the leases is the shared
 * `startLeaseOwnership` of @switchyard/nats (its comment states the safety and liveness rules);
 * this module decides which instances exist and what holding one means.
 *
 * Safety: a renewal that failed, was refused or hangs for half the TTL makes the ownership give
 * the instance up, and its socket is closed at once — at least half a TTL before another replica
 * could claim it. Liveness: a dead replica's instances are claimed after the TTL plus a claim
 * interval; a drained one's at the next claim round. Balance: fair share ceil(instances / live
 * replicas); above it, one instance is handed over per rebalance interval — never all at once.
 */
export function createSessionManager(options: SessionManagerOptions): SessionManager {
  const { leases, replicaId, metrics, logger } = options;
  const log = logger.child({ replica: replicaId });
  const runners = new Map<string, SessionRunner>();
  let ownership: LeaseOwnership | undefined;

  /** `tenant/instance`, the form the API and tests use; lease keys are `tenant.instance`. */
  const keyOf = (tenant: string, instance: string): string => `${tenant}/${instance}`;

  function updateGauge(): void {
    metrics.sessions.leasesHeld.set(runners.size);
  }

  async function candidates(): Promise<string[]> {
    const out: string[] = [];
    for (const tenant of await options.tenants()) {
      try {
        for (const instance of await listCaptureInstances(forTenant(options.pool, tenant)))
          out.push(instanceLeaseKey(tenant, instance));
      } catch (err) {
        // A tenant provisioned before the sessions migration has no tables yet (switchyard migrate).
        if (pgErrorCode(err) === '42P01' || pgErrorCode(err) === '3F000') continue;
        throw err;
      }
    }
    return out;
  }

  async function acquire(leaseKey: string): Promise<void> {
    const parsed = parseInstanceLeaseKey(leaseKey);
    if (parsed === undefined) return;
    const { tenant, instance } = parsed;
    const key = keyOf(tenant, instance);
    const runner = createSessionRunner({
      tenant,
      instance,
      db: forTenant(options.pool, tenant),
      js: options.js,
      ...(options.ingest ? { ingest: options.ingest } : {}),
      ...(options.numbering ? { numbering: options.numbering } : {}),
      logger: options.logger,
      metrics,
      replicaId,
      socketFactory: options.socketFactory,
      reconnect: options.reconnect,
      publishTimeoutMs: options.publishTimeoutMs,
      publishBackoff: options.publishBackoff,
      ...(options.publishWindow !== undefined ? { publishWindow: options.publishWindow } : {}),
      ...(options.spool ? { spool: options.spool } : {}),
      onDeleted: () => {
        ownership?.release(leaseKey).catch((err: unknown) => log.error({ err }, 'releasing a deleted session failed'));
      },
    });
    runners.set(key, runner);
    updateGauge();
    metrics.sessions.leaseChanges.inc({ change: 'claimed' });
    log.info({ tenant, instance }, 'lease claimed');
    await runner.reconcile();
  }

  /** Socket first, lease second: the ownership releases the lease only after this resolved. */
  async function release(leaseKey: string, reason: ReleaseReason): Promise<void> {
    const parsed = parseInstanceLeaseKey(leaseKey);
    if (parsed === undefined) return;
    const key = keyOf(parsed.tenant, parsed.instance);
    const runner = runners.get(key);
    if (runner === undefined) return;
    runners.delete(key);
    updateGauge();
    // `lost` is not awaited by the ownership: stop() closes the socket before its first await.
    const stopping = runner.stop();
    metrics.sessions.leaseChanges.inc({ change: reason === 'unwanted' ? 'released' : reason });
    if (reason === 'lost') log.warn({ ...parsed }, 'lease lost; session stopped');
    else log.info({ ...parsed, change: reason }, 'lease handed over');
    await stopping;
  }

  return {
    start() {
      ownership ??= startLeaseOwnership({
        leases,
        replicaId,
        candidates,
        onAcquire: acquire,
        onRelease: release,
        claimIntervalMs: options.claimIntervalMs,
        rebalanceIntervalMs: options.rebalanceIntervalMs,
        logger: options.logger,
      });
    },
    poke(tenant, instance) {
      runners.get(keyOf(tenant, instance))?.reconcile().catch(() => undefined);
    },
    openSockets: () => [...runners].filter(([, r]) => r.hasSocket()).map(([key]) => key),
    owned: () => [...runners.keys()],
    runner: (tenant, instance) => runners.get(keyOf(tenant, instance)),
    async stop() {
      await ownership?.stop();
    },
    async abandon() {
      await ownership?.abandon();
    },
  };
}
