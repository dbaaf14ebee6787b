import type { JetStreamClient } from 'nats';
import { forTenant, pgErrorCode, type Pool } from '@switchyard/db';
import type { Logger } from '@switchyard/runtime';
import type { BackoffOptions } from './backoff.ts';
import { isWrongLastSequence, type LeaseBucket } from './lease-bucket.ts';
import type { CaptureMetrics } from './metrics.ts';
import { createSessionRunner, type SessionRunner } from './session-runner.ts';
import { listCaptureInstances } from './session-store.ts';
import type { SocketFactory } from './socket-factory.ts';

export interface SessionManagerOptions {
  js: JetStreamClient;
  pool: Pool;
  logger: Logger;
  metrics: CaptureMetrics;
  leases: LeaseBucket;
  /** This replica's id: its heartbeat key and the `owner` it records. */
  replicaId: string;
  /** The tenants to run sessions for (the tenant registry's current keys). */
  tenants: () => Promise<string[]>;
  socketFactory: SocketFactory;
  /** The leases' TTL (the bucket's max_age). Renewed every quarter of it. */
  leaseTtlMs: number;
  /** How often unowned instances are looked for. */
  claimIntervalMs: number;
  /** At most one instance is handed over per this interval while above the fair share. */
  rebalanceIntervalMs: number;
  reconnect: BackoffOptions;
  publishTimeoutMs: number;
  publishBackoff: BackoffOptions;
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

interface Ownership {
  tenant: string;
  instance: string;
  revision: number;
  /** When the request of the last successful claim or renewal was sent (the lease runs from about then). */
  renewedAt: number;
  runner: SessionRunner;
}

/**
 * One socket per instance across replicas. Every instance of every announced tenant is held by
 * at most one replica through a lease in NATS KV; only the holder runs its session (socket,
 * adapter, outbox relay).
 *
 * Safety: the lease runs about `leaseTtlMs` from the last successful renewal's request. Renewals
 * go out every quarter TTL; a watchdog closes the socket of any instance whose last renewal is
 * older than half the TTL — a renewal that failed, was refused or hangs. So a replica has dropped
 * its socket at least half a TTL before another could claim the instance.
 *
 * Liveness: a dead replica's leases expire after the TTL and others claim them on their next
 * claim round: taken over within TTL + claim interval (+ the server's expiry sweep). A drained
 * replica deletes its leases after stopping, so others claim at their next round.
 *
 * Balance: a replica claims while below the fair share ceil(instances / live replicas) (and any
 * instance left unclaimed for two rounds, so an orphan never waits on a stale replica count);
 * above it, it hands over one instance per rebalance interval — never all at once.
 */
export function createSessionManager(options: SessionManagerOptions): SessionManager {
  const { leases, replicaId, metrics, logger, leaseTtlMs } = options;
  const log = logger.child({ replica: replicaId });
  const owned = new Map<string, Ownership>();
  const claiming = new Set<string>();
  let unownedLastRound = new Set<string>();
  let lastHandover = 0;
  let running = false;
  const timers: NodeJS.Timeout[] = [];
  let claimLoop: Promise<void> = Promise.resolve();
  let renewLoop: Promise<void> = Promise.resolve();

  const keyOf = (tenant: string, instance: string): string => `${tenant}/${instance}`;

  function updateGauge(): void {
    metrics.sessions.leasesHeld.set(owned.size);
  }

  /** Lost (or about to be): the socket goes NOW, before anything is awaited. */
  function lose(key: string, why: string): void {
    const ownership = owned.get(key);
    if (ownership === undefined) return;
    owned.delete(key);
    updateGauge();
    metrics.sessions.leaseChanges.inc({ change: 'lost' });
    log.warn({ tenant: ownership.tenant, instance: ownership.instance, why }, 'lease lost; session stopped');
    ownership.runner.stop().catch((err: unknown) => log.error({ err }, 'stopping a lost session failed'));
  }

  async function handOver(key: string, change: 'released' | 'rebalanced'): Promise<void> {
    const ownership = owned.get(key);
    if (ownership === undefined) return;
    owned.delete(key);
    updateGauge();
    // Socket first, lease second: nobody may open a socket while ours could still be up.
    await ownership.runner.stop();
    await leases.release(ownership.tenant, ownership.instance, ownership.revision);
    metrics.sessions.leaseChanges.inc({ change });
    log.info({ tenant: ownership.tenant, instance: ownership.instance, change }, 'lease handed over');
  }

  function watchdog(): void {
    const limit = Date.now() - leaseTtlMs / 2;
    for (const [key, ownership] of owned) {
      if (ownership.renewedAt < limit) lose(key, 'no successful renewal within half the lease TTL');
    }
  }

  async function renewAll(): Promise<void> {
    await leases.heartbeat(replicaId).catch((err: unknown) => log.warn({ err }, 'replica heartbeat failed'));
    await Promise.all(
      [...owned].map(async ([key, ownership]) => {
        const sentAt = Date.now();
        try {
          const revision = await leases.renew(ownership.tenant, ownership.instance, replicaId, ownership.revision);
          // Still ours, and still the same ownership (not lost and re-claimed meanwhile)?
          if (owned.get(key) === ownership) {
            ownership.revision = revision;
            ownership.renewedAt = sentAt;
          }
        } catch (err) {
          log.warn({ err, tenant: ownership.tenant, instance: ownership.instance }, 'lease renewal failed');
          // Refused means someone else holds it now; a network failure is left to the watchdog.
          if (isWrongLastSequence(err)) lose(key, 'renewal refused');
        }
      }),
    );
  }

  async function candidates(): Promise<string[]> {
    const out: string[] = [];
    for (const tenant of await options.tenants()) {
      try {
        for (const instance of await listCaptureInstances(forTenant(options.pool, tenant)))
          out.push(keyOf(tenant, instance));
      } catch (err) {
        // A tenant provisioned before the sessions migration has no tables yet (switchyard migrate).
        if (pgErrorCode(err) === '42P01' || pgErrorCode(err) === '3F000') continue;
        throw err;
      }
    }
    return out;
  }

  async function claim(tenant: string, instance: string): Promise<void> {
    const key = keyOf(tenant, instance);
    const sentAt = Date.now();
    const revision = await leases.claim(tenant, instance, replicaId);
    if (revision === undefined || !running) {
      if (revision !== undefined) await leases.release(tenant, instance, revision);
      return;
    }
    const runner = createSessionRunner({
      tenant,
      instance,
      db: forTenant(options.pool, tenant),
      js: options.js,
      logger: options.logger,
      metrics,
      replicaId,
      socketFactory: options.socketFactory,
      reconnect: options.reconnect,
      publishTimeoutMs: options.publishTimeoutMs,
      publishBackoff: options.publishBackoff,
      onDeleted: () => {
        handOver(key, 'released').catch((err: unknown) => log.error({ err }, 'releasing a deleted session failed'));
      },
    });
    owned.set(key, { tenant, instance, revision, renewedAt: sentAt, runner });
    updateGauge();
    metrics.sessions.leaseChanges.inc({ change: 'claimed' });
    log.info({ tenant, instance }, 'lease claimed');
    await runner.reconcile();
  }

  async function claimRound(): Promise<void> {
    const all = await candidates();
    const held = await leases.held();
    const replicas = await leases.liveReplicas();
    const fairShare = Math.ceil(all.length / replicas);
    const unowned = new Set(all.filter((key) => !held.has(key) && !owned.has(key)));
    for (const key of unowned) {
      if (!running) return;
      if (claiming.has(key)) continue;
      if (owned.size >= fairShare && !unownedLastRound.has(key)) continue;
      const [tenant, instance] = key.split('/') as [string, string];
      claiming.add(key);
      try {
        await claim(tenant, instance);
      } catch (err) {
        log.warn({ err, tenant, instance }, 'claiming an instance failed');
      } finally {
        claiming.delete(key);
      }
    }
    unownedLastRound = unowned;
    // Instances whose session and outbox are gone are let go.
    const wanted = new Set(all);
    for (const key of [...owned.keys()]) if (!wanted.has(key)) await handOver(key, 'released');
    if (owned.size > fairShare && Date.now() - lastHandover >= options.rebalanceIntervalMs) {
      lastHandover = Date.now();
      const last = [...owned.keys()].at(-1);
      if (last !== undefined) await handOver(last, 'rebalanced');
    }
  }

  function every(ms: number, run: () => Promise<void>, set: (p: Promise<void>) => void): void {
    const tick = (): void => {
      if (!running) return;
      const p = run()
        .catch((err: unknown) => log.warn({ err }, 'session manager round failed'))
        .finally(() => {
          if (running) timers.push(setTimeout(tick, ms));
        });
      set(p);
    };
    tick();
  }

  function halt(): void {
    running = false;
    for (const t of timers.splice(0)) clearTimeout(t);
    clearInterval(watchdogTimer);
  }

  let watchdogTimer: NodeJS.Timeout | undefined;

  return {
    start() {
      if (running) return;
      running = true;
      watchdogTimer = setInterval(watchdog, Math.min(250, leaseTtlMs / 8));
      every(leaseTtlMs / 4, renewAll, (p) => {
        renewLoop = p;
      });
      every(options.claimIntervalMs, claimRound, (p) => {
        claimLoop = p;
      });
    },
    poke(tenant, instance) {
      const ownership = owned.get(keyOf(tenant, instance));
      ownership?.runner.reconcile().catch(() => undefined);
    },
    openSockets: () => [...owned].filter(([, o]) => o.runner.hasSocket()).map(([key]) => key),
    owned: () => [...owned.keys()],
    runner: (tenant, instance) => owned.get(keyOf(tenant, instance))?.runner,
    async stop() {
      halt();
      await Promise.all([claimLoop, renewLoop]);
      await Promise.all([...owned.keys()].map((key) => handOver(key, 'released')));
      await leases.retire(replicaId);
    },
    async abandon() {
      halt();
      const all = [...owned.values()];
      owned.clear();
      updateGauge();
      await Promise.all(all.map((o) => o.runner.stop()));
    },
  };
}
