import type { JetStreamClient, KV } from 'nats';
import { isMessageNotFound } from './errors.ts';
import type { Logger } from 'pino';

/**
 * Single ownership through leases in a NATS KV bucket, in three layers:
 *
 *   openLeaseBucket     compare-and-set leases on string keys plus replica heartbeats
 *   startLeaseOwnership claims, renews, gives up and rebalances a changing set of keys
 *                       (capture: one key per WhatsApp instance)
 *   startOwnership      the same over P fixed partitions, with `partitionOf(name, P)` mapping
 *                       anything (a tenant) to its partition (router: per-tenant realtime
 *                       consumers; webhook fan-out next)
 *
 * Guarantee (safety): a holder stops its work for a key before any other replica can get the
 * key. Leases live `ttlMs` from the last successful write (the bucket's max_age); renewals go
 * out every ttl/4 and a watchdog gives up (calls onRelease with `lost`) any key whose last
 * successful renewal is older than ttl/2 — so the holder stopped at least ttl/2 before the lease
 * can expire and be claimed. onRelease for `lost` is not awaited (the lease may be gone), so the
 * work it stops must stop intake synchronously, as the consume loops' `stop()` does.
 *
 * Liveness: a dead holder's keys expire after ttl and are claimed on the next claim round;
 * a drained holder (`stop()`) releases its keys after onRelease resolved, so another replica
 * claims them on its next round.
 *
 * Hand-over: a release (never an expiry or a lost lease) leaves a `handover.<key>` entry, written
 * after onRelease resolved and before the lease goes. The next claimant takes it (reads and erases
 * it) and is told `handedOver: true`: the previous holder stopped its work and handed back what it
 * held, so there is nothing of its still running to wait out (see `awaitTakeover`).
 *
 * Balance: a replica claims while below its fair share ceil(keys / live replicas) (live = fresh
 * heartbeats in the same bucket), plus any key left unclaimed for two rounds so an orphan never
 * waits on a stale replica count; above its share it hands over one key per rebalance interval.
 */

/** The bucket's max_age is the TTL: a lease or heartbeat nobody renews vanishes. */
export interface LeaseBucketOptions {
  bucket: string;
  ttlMs: number;
}

export interface LeaseBucket {
  readonly ttlMs: number;
  /** Takes the lease if nobody holds it: the revision to renew with, or undefined if held. */
  claim(key: string, holder: string): Promise<number | undefined>;
  /** Renews a held lease; throws if it was lost (`isLeaseTaken`) or NATS failed. */
  renew(key: string, holder: string, revision: number): Promise<number>;
  /**
   * Gives a lease up (only if still ours at `revision`). False when the delete failed: the lease
   * then expires after its TTL, and the next holder claims it then.
   */
  release(key: string, revision: number): Promise<boolean>;
  /**
   * Says that the key's holder stopped its work cleanly, just before it releases the lease; the
   * entry lives at most the TTL. Throws if NATS failed (the next claimant then assumes the worst).
   */
  markHandedOver(key: string, holder: string): Promise<void>;
  /** After a claim: whether the previous holder handed the key over cleanly (its mark, now erased). */
  takeHandover(key: string): Promise<boolean>;
  /** Every key somebody holds. */
  held(): Promise<Set<string>>;
  heartbeat(replicaId: string): Promise<void>;
  /** Erases this replica's heartbeat; false when that failed (it then expires after the TTL). */
  retire(replicaId: string): Promise<boolean>;
  /** Replicas whose heartbeat has not expired (at least 1: the caller). */
  liveReplicas(): Promise<number>;
}

const LEASE_PREFIX = 'lease';
const REPLICA_PREFIX = 'replica';
const HANDOVER_PREFIX = 'handover';

/**
 * Leases as compare-and-set entries: `create` succeeds only for a key nobody holds, `update` only
 * with the revision the holder last wrote, so a replica too slow to renew finds out rather than
 * overwriting a new owner. max_age on the bucket rather than per-key TTL: the nats.js v2 client
 * has no per-message TTL, and every key here wants the same lifetime.
 *
 * Listing reads the stream's subjects (stream info with a subjects filter), not `kv.keys()`: that
 * iterator waits for as many entries as were pending when it started, and hangs for good when one
 * of them expires meanwhile, which leases whose lifetime is max_age do all the time. So releasing
 * erases the lease's own message (by its revision, which is its stream sequence: a lease somebody
 * else wrote since has another one) instead of writing a delete marker, and a subject present in
 * the stream is a key somebody holds.
 */
export async function openLeaseBucket(js: JetStreamClient, options: LeaseBucketOptions): Promise<LeaseBucket> {
  const kv: KV = await js.views.kv(options.bucket, { history: 1, ttl: options.ttlMs });
  const jsm = await js.jetstreamManager();
  const stream = `KV_${options.bucket}`;
  const subjectPrefix = `$KV.${options.bucket}.`;
  const encode = (holder: string): Uint8Array => new TextEncoder().encode(JSON.stringify({ replica: holder, at: new Date().toISOString() }));
  const leaseKey = (key: string): string => `${LEASE_PREFIX}.${key}`;
  const heartbeats = new Map<string, number>();

  async function keys(prefix: string): Promise<string[]> {
    const info = await jsm.streams.info(stream, { subjects_filter: `${subjectPrefix}${prefix}.>` });
    const start = subjectPrefix.length + prefix.length + 1;
    return Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(start));
  }

  /**
   * Erases one message: true once it is gone, whoever removed it (erased, expired, or not ours any
   * more is what erasing wanted); false when the delete failed and it may still be there.
   */
  async function erase(seq: number): Promise<boolean> {
    try {
      await jsm.streams.deleteMessage(stream, seq, false);
      return true;
    } catch (err) {
      return isMessageNotFound(err);
    }
  }

  return {
    ttlMs: options.ttlMs,
    async claim(key, holder) {
      try {
        return await kv.create(leaseKey(key), encode(holder));
      } catch (err) {
        if (isLeaseTaken(err)) return undefined;
        throw err;
      }
    },
    renew: (key, holder, revision) => kv.update(leaseKey(key), encode(holder), revision),
    release: (_key, revision) => erase(revision),
    async markHandedOver(key, holder) {
      await kv.put(`${HANDOVER_PREFIX}.${key}`, encode(holder));
    },
    async takeHandover(key) {
      const entry = await kv.get(`${HANDOVER_PREFIX}.${key}`);
      if (entry === null || entry.operation !== 'PUT') return false;
      // Used once: a later claimant (after this one's crash, say) must not read it as its own. A
      // mark that could not be erased is not trusted either: fencing costs time, never order.
      return erase(entry.revision);
    },
    held: async () => new Set(await keys(LEASE_PREFIX)),
    async heartbeat(replicaId) {
      const revision = await kv.put(`${REPLICA_PREFIX}.${replicaId}`, encode(replicaId));
      heartbeats.set(replicaId, revision);
    },
    async retire(replicaId) {
      const revision = heartbeats.get(replicaId);
      heartbeats.delete(replicaId);
      return revision === undefined ? true : erase(revision);
    },
    liveReplicas: async () => Math.max(1, (await keys(REPLICA_PREFIX)).length),
  };
}

/** JetStream's "wrong last sequence" (10071): a compare-and-set write lost, somebody else holds the key. */
export function isLeaseTaken(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const apiError: unknown = (err as { api_error?: unknown }).api_error;
  return typeof apiError === 'object' && apiError !== null && (apiError as { err_code?: unknown }).err_code === 10071;
}

/** Why a key stopped being ours. `lost`: renewal failed or was refused (not awaited, see above). */
export type ReleaseReason = 'released' | 'rebalanced' | 'unwanted' | 'lost';

export interface LeaseOwnershipOptions {
  leases: LeaseBucket;
  /** This replica's id: its heartbeat key and the holder recorded in its leases. */
  replicaId: string;
  /** The keys to divide between replicas; read every claim round. */
  candidates(): string[] | Promise<string[]>;
  /**
   * The key is ours: start its work. Awaited before the next claim. A throw is logged, the key kept.
   * `handedOver`: the previous holder released it cleanly (see the module comment).
   */
  onAcquire(key: string, acquired: { handedOver: boolean }): void | Promise<void>;
  /** The key is no longer ours (or is about to be released): stop its work. */
  onRelease(key: string, reason: ReleaseReason): void | Promise<void>;
  /** How often unowned keys are looked for. Default ttl/2. */
  claimIntervalMs?: number;
  /** At most `rebalanceStep` keys are handed over per this interval while above the fair share. Default 2 × ttl. */
  rebalanceIntervalMs?: number;
  /** Keys handed over per rebalance interval. Default 1 (capture: every hand-over is a reconnect). */
  rebalanceStep?: number;
  logger: Logger;
}

export interface LeaseOwnership {
  owns(key: string): boolean;
  owned(): string[];
  /** Gives one key up now (its work stopped first), e.g. because it was deleted. */
  release(key: string): Promise<void>;
  /** Drain: stops claiming, stops every key's work, then releases its lease so another replica takes over at once. */
  stop(): Promise<void>;
  /** Tests: dies like a crashed process — work stopped, leases left to expire. */
  abandon(): Promise<void>;
}

interface Held {
  revision: number;
  /** When the request of the last successful claim or renewal was sent (the lease runs from about then). */
  renewedAt: number;
  /**
   * Whether the key is owned to its users: false between the claim and reading its hand-over
   * mark, so `owns` never answers true before `onAcquire` knows how the key came.
   */
  ready: boolean;
}

/** Holds a fair share of `candidates()` through leases; see the module comment for the rules. */
export function startLeaseOwnership(options: LeaseOwnershipOptions): LeaseOwnership {
  const { leases, replicaId } = options;
  const ttlMs = leases.ttlMs;
  const claimIntervalMs = options.claimIntervalMs ?? ttlMs / 2;
  const rebalanceIntervalMs = options.rebalanceIntervalMs ?? ttlMs * 2;
  const log = options.logger.child({ replica: replicaId, component: 'ownership' });
  const owned = new Map<string, Held>();
  const timers: NodeJS.Timeout[] = [];
  let unownedLastRound = new Set<string>();
  let lastHandover = 0;
  let running = true;
  let claimLoop: Promise<void> = Promise.resolve();
  let renewLoop: Promise<void> = Promise.resolve();

  function lose(key: string, why: string): void {
    if (!owned.delete(key)) return;
    log.warn({ key, why }, 'lease lost; its work stopped');
    Promise.resolve()
      .then(() => options.onRelease(key, 'lost'))
      .catch((err: unknown) => log.error({ err, key }, 'stopping the work of a lost lease failed'));
  }

  async function handOver(key: string, reason: Exclude<ReleaseReason, 'lost'>): Promise<void> {
    const held = owned.get(key);
    if (held === undefined) return;
    owned.delete(key);
    // Work first, lease second: nobody may start the key's work while ours could still run.
    try {
      await options.onRelease(key, reason);
    } catch (err) {
      // Not releasing the lease: it expires after ttl, by which time the work is surely stopped.
      log.error({ err, key }, 'stopping the work of a lease failed; leaving the lease to expire');
      return;
    }
    await leases.markHandedOver(key, replicaId).catch((err: unknown) =>
      log.warn({ err, key }, 'marking a lease as handed over failed; its next holder will wait out what this one held'),
    );
    if (await leases.release(key, held.revision)) log.info({ key, reason }, 'lease handed over');
    else log.warn({ key, reason }, 'lease handed over, but releasing it failed: the next holder claims it once it expires');
  }

  function watchdog(): void {
    const limit = Date.now() - ttlMs / 2;
    for (const [key, held] of owned) if (held.renewedAt < limit) lose(key, 'no successful renewal within half the lease TTL');
  }

  async function renewAll(): Promise<void> {
    await leases.heartbeat(replicaId).catch((err: unknown) => log.warn({ err }, 'replica heartbeat failed'));
    await Promise.all(
      [...owned].map(async ([key, held]) => {
        const sentAt = Date.now();
        try {
          const revision = await leases.renew(key, replicaId, held.revision);
          // Still the same holding (not lost and re-claimed meanwhile)?
          if (owned.get(key) === held) {
            held.revision = revision;
            held.renewedAt = sentAt;
          }
        } catch (err) {
          log.warn({ err, key }, 'lease renewal failed');
          // Refused means someone else holds it now; a network failure is left to the watchdog.
          if (isLeaseTaken(err) && owned.get(key) === held) lose(key, 'renewal refused');
        }
      }),
    );
  }

  async function claim(key: string): Promise<void> {
    const sentAt = Date.now();
    const revision = await leases.claim(key, replicaId);
    if (revision === undefined) return;
    if (!running) {
      if (!(await leases.release(key, revision))) log.warn({ key }, 'releasing a lease claimed while stopping failed: it expires after its TTL');
      return;
    }
    const held: Held = { revision, renewedAt: sentAt, ready: false };
    owned.set(key, held);
    const handedOver = await leases.takeHandover(key).catch((err: unknown) => {
      log.warn({ err, key }, 'reading the hand-over mark of a claimed lease failed; treating it as taken over from a dead holder');
      return false;
    });
    // Lost or given up while the mark was read: its work never started.
    if (owned.get(key) !== held) return;
    log.info({ key, handedOver }, 'lease claimed');
    // No await between becoming owned and onAcquire's first step.
    held.ready = true;
    try {
      await options.onAcquire(key, { handedOver });
    } catch (err) {
      log.error({ err, key }, 'starting the work of a claimed lease failed');
    }
  }

  async function claimRound(): Promise<void> {
    const all = await options.candidates();
    const held = await leases.held();
    const fairShare = Math.ceil(all.length / (await leases.liveReplicas()));
    const unowned = new Set(all.filter((key) => !held.has(key) && !owned.has(key)));
    for (const key of unowned) {
      if (!running) return;
      if (owned.size >= fairShare && !unownedLastRound.has(key)) continue;
      await claim(key).catch((err: unknown) => log.warn({ err, key }, 'claiming a lease failed'));
    }
    unownedLastRound = unowned;
    const wanted = new Set(all);
    for (const key of [...owned.keys()]) if (!wanted.has(key)) await handOver(key, 'unwanted');
    if (owned.size > fairShare && Date.now() - lastHandover >= rebalanceIntervalMs) {
      lastHandover = Date.now();
      const excess = [...owned.keys()].slice(fairShare).slice(-(options.rebalanceStep ?? 1));
      await Promise.all(excess.map((key) => handOver(key, 'rebalanced')));
    }
  }

  function every(ms: number, run: () => Promise<void>, set: (p: Promise<void>) => void): void {
    const tick = (): void => {
      if (!running) return;
      set(
        run()
          .catch((err: unknown) => log.warn({ err }, 'ownership round failed'))
          .finally(() => {
            if (running) timers.push(setTimeout(tick, ms));
          }),
      );
    };
    tick();
  }

  const watchdogTimer = setInterval(watchdog, Math.min(250, ttlMs / 8));
  every(ttlMs / 4, renewAll, (p) => {
    renewLoop = p;
  });
  every(claimIntervalMs, claimRound, (p) => {
    claimLoop = p;
  });

  function halt(): void {
    running = false;
    for (const t of timers.splice(0)) clearTimeout(t);
    clearInterval(watchdogTimer);
  }

  let stopped: Promise<void> | undefined;
  return {
    owns: (key) => owned.get(key)?.ready === true,
    owned: () => [...owned].filter(([, held]) => held.ready).map(([key]) => key),
    release: (key) => handOver(key, 'released'),
    stop() {
      stopped ??= (async () => {
        halt();
        await Promise.all([claimLoop, renewLoop]);
        await Promise.all([...owned.keys()].map((key) => handOver(key, 'released')));
        if (!(await leases.retire(replicaId))) log.warn('erasing this replica\'s heartbeat failed: until it expires, the others count this replica in their fair shares');
      })();
      return stopped;
    },
    async abandon() {
      halt();
      const all = [...owned.keys()];
      owned.clear();
      await Promise.all(all.map(async (key) => options.onRelease(key, 'lost')));
    },
  };
}

/** The partition of `name` (a tenant id) among `partitions`: FNV-1a of its UTF-8 bytes, stable across processes and versions. */
export function partitionOf(name: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(name)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

/** What a partition change is; listeners are awaited (a release waits for them before the lease goes). */
export interface PartitionChange {
  partition: number;
  kind: 'acquired' | 'released';
  reason?: ReleaseReason;
}
export type PartitionListener = (change: PartitionChange) => void | Promise<void>;

export interface StartOwnershipOptions {
  js: JetStreamClient;
  /** The KV bucket of these leases (one per use: e.g. `switchyard_router_partitions`). */
  bucket: string;
  /** What is owned, for logs (`router-realtime`). */
  name: string;
  partitions: number;
  replicaId: string;
  ttlMs: number;
  /** Default max(200 ms, ttl/5). */
  claimIntervalMs?: number;
  rebalanceIntervalMs?: number;
  /** Partitions handed over per rebalance interval; default ceil(partitions / 8). */
  rebalanceStep?: number;
  logger: Logger;
  onAcquire?(partition: number, acquired: { handedOver: boolean }): void | Promise<void>;
  onRelease?(partition: number, reason: ReleaseReason): void | Promise<void>;
}

export interface PartitionOwnership {
  readonly partitions: number;
  owns(partition: number): boolean;
  /** Whether this replica owns the partition of `name` now. */
  ownsName(name: string): boolean;
  /**
   * Whether this replica owns the partition of `name` since its previous owner handed it over
   * cleanly (released, not expired): then nothing of that owner's can still be in flight.
   */
  handedOverName(name: string): boolean;
  owned(): number[];
  /** Adds a listener for later changes (for the current state, ask `owns`); answers an unsubscribe. */
  listen(listener: PartitionListener): () => void;
  stop(): Promise<void>;
  abandon(): Promise<void>;
}

/**
 * P partitions leased one by one (keys `p<k>` in `bucket`): at most one replica owns a partition
 * at a time, each replica takes up to its fair share, and a drained replica's partitions move at
 * once, a dead one's after the TTL (see the module comment).
 */
export async function startOwnership(options: StartOwnershipOptions): Promise<PartitionOwnership> {
  const { partitions } = options;
  if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  const leases = await openLeaseBucket(options.js, { bucket: options.bucket, ttlMs: options.ttlMs });
  const keys = Array.from({ length: partitions }, (_, p) => `p${p}`);
  const listeners = new Set<PartitionListener>();
  // Partitions owned now that were acquired from a clean hand-over.
  const handedOver = new Set<number>();
  const toPartition = (key: string): number => Number.parseInt(key.slice(1), 10);
  const notify = async (change: PartitionChange): Promise<void> => {
    await Promise.all([...listeners].map(async (listener) => listener(change)));
  };
  const ownership = startLeaseOwnership({
    leases,
    replicaId: options.replicaId,
    candidates: () => keys,
    // Partitions are cheap to move (a consumer stops here and starts there), so by default they
    // are claimed every TTL/5 and handed over an eighth at a time, not one key per round.
    claimIntervalMs: options.claimIntervalMs ?? Math.max(200, options.ttlMs / 5),
    rebalanceStep: options.rebalanceStep ?? Math.ceil(partitions / 8),
    ...(options.rebalanceIntervalMs !== undefined ? { rebalanceIntervalMs: options.rebalanceIntervalMs } : {}),
    logger: options.logger.child({ ownership: options.name }),
    async onAcquire(key, acquired) {
      const partition = toPartition(key);
      if (acquired.handedOver) handedOver.add(partition);
      else handedOver.delete(partition);
      await options.onAcquire?.(partition, acquired);
      await notify({ partition, kind: 'acquired' });
    },
    async onRelease(key, reason) {
      const partition = toPartition(key);
      handedOver.delete(partition);
      await Promise.all([options.onRelease?.(partition, reason), notify({ partition, kind: 'released', reason })]);
    },
  });
  return {
    partitions,
    owns: (partition) => ownership.owns(`p${partition}`),
    ownsName: (name) => ownership.owns(`p${partitionOf(name, partitions)}`),
    handedOverName(name) {
      const partition = partitionOf(name, partitions);
      return ownership.owns(`p${partition}`) && handedOver.has(partition);
    },
    owned: () => ownership.owned().map(toPartition).sort((a, b) => a - b),
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop: () => ownership.stop(),
    abandon: () => ownership.abandon(),
  };
}
