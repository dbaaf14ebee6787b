import {
  assertTenantId,
  durableName,
  isValidTenantId,
  STREAMS,
  SYSTEM_TENANT,
  tenantFilterSubject,
  type StreamKind,
} from '@switchyard/schema';
import { millis, type JetStreamClient, type JetStreamManager, type KV, type KvEntry, type QueuedIterator } from 'nats';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { startConsumer } from './consume.ts';
import { deleteDurableConsumer } from './consumers.ts';
import { isConsumerNotFound } from './errors.ts';
import type { Handler } from './outcome.ts';
import type { PartitionOwnership } from './ownership.ts';

/**
 * Tenants are announced on a KV bucket (key = tenant id, value = JSON metadata) by whoever
 * provisions them; every service watches it and starts or stops its per-tenant consumers, so a
 * new tenant is served without restarting anything.
 */
export const TENANT_BUCKET = 'switchyard_tenants';

export interface TenantBucketOptions {
  /** Tests only: a private bucket instead of `switchyard_tenants`. */
  bucket?: string;
}

async function openBucket(js: JetStreamClient, bucket: string | undefined): Promise<KV> {
  return js.views.kv(bucket ?? TENANT_BUCKET, { history: 1 });
}

export async function announceTenant(
  js: JetStreamClient,
  tenant: string,
  meta: Record<string, unknown> = {},
  options: TenantBucketOptions = {},
): Promise<void> {
  const kv = await openBucket(js, options.bucket);
  await kv.put(assertTenantId(tenant), JSON.stringify(meta));
}

export async function retractTenant(js: JetStreamClient, tenant: string, options: TenantBucketOptions = {}): Promise<void> {
  const kv = await openBucket(js, options.bucket);
  await kv.delete(assertTenantId(tenant));
}

export interface WatchTenantsOptions extends TenantBucketOptions {
  /** Called once per tenant, for existing tenants first; awaited before the next change. */
  onAdded(tenant: string): void | Promise<void>;
  onRemoved(tenant: string): void | Promise<void>;
  logger?: Logger;
}

export interface TenantWatch {
  /** Resolves once every tenant that existed when watching began was passed to onAdded. */
  readonly ready: Promise<void>;
  /** Stops watching and waits for the callback in progress. */
  stop(): Promise<void>;
}

function isRemoval(entry: KvEntry): boolean {
  return entry.operation === 'DEL' || entry.operation === 'PURGE';
}

/**
 * Delivers the current tenants, then live changes. The KV watch is an ordered consumer, which the
 * client recreates by itself after a NATS restart.
 */
export async function watchTenants(js: JetStreamClient, options: WatchTenantsOptions): Promise<TenantWatch> {
  const kv = await openBucket(js, options.bucket);
  const known = new Set<string>();
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const handle = async (entry: KvEntry): Promise<void> => {
    const tenant = entry.key;
    if (!isValidTenantId(tenant)) {
      options.logger?.warn({ key: tenant }, 'ignoring tenant registry key that is not a valid tenant id');
      return;
    }
    try {
      if (isRemoval(entry)) {
        if (known.delete(tenant)) await options.onRemoved(tenant);
      } else if (!known.has(tenant)) {
        known.add(tenant);
        await options.onAdded(tenant);
      }
    } catch (err) {
      options.logger?.error({ err, tenant, operation: entry.operation }, 'tenant registry callback failed');
    }
  };

  // The client signals when it has *received* the initial values (sometimes before `watch`
  // returns); `ready` must mean they were *handled*, so compare against what was received then.
  let iter: QueuedIterator<KvEntry> | undefined = undefined;
  let initialized = false;
  let initialCount: number | undefined;
  let handled = 0;
  const checkReady = (): void => {
    if (!initialized || iter === undefined) return;
    initialCount ??= iter.getReceived();
    if (handled >= initialCount) markReady();
  };
  iter = await kv.watch({
    initializedFn: () => {
      initialized = true;
      checkReady();
    },
  });
  checkReady();
  const entries = iter;
  const loop = (async () => {
    for await (const entry of entries) {
      await handle(entry);
      handled++;
      checkReady();
    }
  })();

  return {
    ready,
    async stop() {
      entries.stop();
      markReady();
      await loop.catch((err: unknown) => options.logger?.error({ err }, 'tenant watch failed'));
    },
  };
}

export interface TenantConsumerOptions {
  /** Deliveries before MAX_DELIVERIES dead-lettering; -1 never dead-letters. Default 5. */
  maxDeliver?: number;
  concurrency?: number;
  retryBackoffMs?: number[];
  ackWaitMs?: number;
  maxAckPending?: number;
  /** Several filters per tenant instead of the kind's `v1.<kind>.<tenant>.>` (see DurableConsumerOptions). */
  filterSubjectsFor?(tenant: string): string[];
  /**
   * The durable's name when a service keeps more than one durable per tenant on a stream (e.g.
   * the router's history durable). Default `durableName(service, tenant)`.
   */
  durableFor?(tenant: string): string;
  /** Run a tenant's consumer only while this replica is admitted to it (single ownership; see TenantGate). */
  gate?: TenantGate;
}

export interface StartTenantConsumersOptions extends TenantBucketOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  service: string;
  kind: StreamKind;
  handlerFor(tenant: string): Handler;
  logger: Logger;
  registry: Registry;
  consumerOptions?: TenantConsumerOptions;
  /** Tests only: a private stream instead of the kind's production stream. */
  streamName?: string;
  /** Tests only: filter subjects under a private prefix. */
  filterSubjectFor?(tenant: string): string;
  /** Tests only: a private DLQ subject. */
  dlqSubjectFor?(tenant: string): string;
  /**
   * Consumed whatever the registry says. Default: `_system` for the DLQ kind, because messages
   * that could not be attributed to a tenant are dead-lettered there and no tenant announces it.
   */
  alwaysTenants?: readonly string[];
}

export interface TenantConsumers {
  /** Tenants with a running consumer, sorted. */
  tenants(): string[];
  /** Stops watching, then stops every consumer (waiting for in-flight handlers). Durables stay. */
  stop(): Promise<void>;
}

/**
 * One durable consumer per announced tenant (`durableName(service, tenant)`), started when the
 * tenant is announced and deleted when it is retracted. Each tenant has its own pull loop, so a
 * tenant's backlog or hung handler never stalls another. Resolves once the tenants that already
 * existed have consumers.
 */
export async function startTenantConsumers(options: StartTenantConsumersOptions): Promise<TenantConsumers> {
  const { js, jsm, service, kind, logger, registry } = options;
  const stream = options.streamName ?? STREAMS[kind];
  const tuning = options.consumerOptions ?? {};
  return followTenants({
    js,
    jsm,
    stream,
    logger,
    ...(options.bucket !== undefined ? { bucket: options.bucket } : {}),
    always: options.alwaysTenants ?? (kind === 'dlq' ? [SYSTEM_TENANT] : []),
    ...(tuning.gate !== undefined ? { gate: tuning.gate } : {}),
    durableFor: (tenant) => tuning.durableFor?.(tenant) ?? durableName(service, tenant),
    start(tenant) {
      const filterSubjects = tuning.filterSubjectsFor?.(tenant);
      const dlqSubject = options.dlqSubjectFor?.(tenant);
      return startConsumer({
        js,
        jsm,
        // The loop creates the durable itself (and retries while NATS is away), so a tenant
        // announced during an outage is still picked up.
        ensure: {
          filterSubject: options.filterSubjectFor?.(tenant) ?? tenantFilterSubject(kind, tenant),
          ...(filterSubjects !== undefined ? { filterSubjects } : {}),
          ...(tuning.ackWaitMs !== undefined ? { ackWaitMs: tuning.ackWaitMs } : {}),
          ...(tuning.maxAckPending !== undefined ? { maxAckPending: tuning.maxAckPending } : {}),
        },
        stream,
        durable: tuning.durableFor?.(tenant) ?? durableName(service, tenant),
        tenant,
        service,
        handler: options.handlerFor(tenant),
        logger,
        registry,
        ...(tuning.maxDeliver !== undefined ? { maxDeliver: tuning.maxDeliver } : {}),
        ...(tuning.concurrency !== undefined ? { concurrency: tuning.concurrency } : {}),
        ...(tuning.retryBackoffMs !== undefined ? { retryBackoffMs: tuning.retryBackoffMs } : {}),
        ...(dlqSubject !== undefined ? { dlqSubject } : {}),
        // A gated tenant is read by one replica at a time.
        soleReader: tuning.gate !== undefined,
      });
    },
  });
}

/** What runs for one tenant: something with a durable that can be stopped. */
export interface TenantWorker {
  readonly durable: string;
  stop(): Promise<void>;
}

/**
 * Which tenants this replica may run a consumer for, when a consumer must have one reader
 * across replicas (e.g. to keep order with many messages in flight). `followTenants` starts a
 * tenant's worker when the gate admits it and stops it when it no longer does; the change
 * listener is awaited, so an owner giving a tenant up stops its worker before the lease goes.
 */
export interface TenantGate {
  admits(tenant: string): boolean;
  /** Calls `changed` after admissions changed (ask `admits` again); answers an unsubscribe. */
  listen(changed: () => Promise<void>): () => void;
  /**
   * Before a newly admitted tenant's worker starts: wait for what the previous holder left in
   * flight (see `awaitTakeover`). Default: no wait.
   */
  beforeStart?(tenant: string, durable: string, signal: AbortSignal): Promise<void>;
}

/**
 * A gate over partition ownership: a tenant is admitted while this replica owns
 * `partitionOf(tenant)`, and a durable taken over from a holder that did not hand its partition
 * over cleanly (it died, or lost its lease) is fenced (`awaitTakeover`) before it is read. After a
 * clean hand-over the previous holder has stopped and handed back what it held: the consume loop's
 * first attach (soleReader) gathers those messages in stream order, with no ack_wait to sit out.
 */
export function partitionGate(ownership: PartitionOwnership, fence?: { jsm: JetStreamManager; stream: string; logger?: Logger }): TenantGate {
  return {
    admits: (tenant) => ownership.ownsName(tenant),
    listen: (changed) => ownership.listen(() => changed()),
    ...(fence !== undefined
      ? {
          beforeStart: async (tenant: string, durable: string, signal: AbortSignal) => {
            if (ownership.handedOverName(tenant)) return;
            await awaitTakeover({ ...fence, durable, signal });
          },
        }
      : {}),
  };
}

export interface AwaitTakeoverOptions {
  jsm: JetStreamManager;
  stream: string;
  durable: string;
  signal: AbortSignal;
  logger?: Logger | undefined;
  /** Poll interval for the durable's state. Default min(250 ms, ack_wait / 10). */
  pollMs?: number;
}

/**
 * The takeover fence. A replica that takes a durable over from a dead holder must not pull before
 * the messages that holder left unacked are due for redelivery: JetStream serves due
 * redeliveries before new messages, but a message not yet due would be overtaken by later ones.
 * Resolves when the durable has nothing pending (a drained holder acked everything; a fresh
 * durable) or once ack_wait has passed since its last delivery, whichever comes first.
 */
export async function awaitTakeover(options: AwaitTakeoverOptions): Promise<void> {
  const { jsm, stream, durable, signal } = options;
  let deadline: number | undefined;
  while (!signal.aborted) {
    let info;
    try {
      info = await jsm.consumers.info(stream, durable);
    } catch (err) {
      if (isConsumerNotFound(err)) return;
      throw err;
    }
    if (info.num_ack_pending === 0) return;
    const ackWaitMs = millis(info.config.ack_wait ?? 0);
    if (deadline === undefined) {
      // `last_active` is an RFC 3339 time on the wire (typed as nanos by the client).
      const lastActive = Date.parse(String(info.delivered.last_active ?? ''));
      deadline = (Number.isNaN(lastActive) ? Date.now() : Math.min(Date.now(), lastActive)) + ackWaitMs + 100;
      options.logger?.info({ stream, durable, pending: info.num_ack_pending, waitMs: Math.max(0, deadline - Date.now()) }, 'taking over a durable with unacked messages; waiting for their redelivery');
    }
    const left = deadline - Date.now();
    if (left <= 0) return;
    await abortableSleep(Math.min(left, options.pollMs ?? Math.max(10, Math.min(250, ackWaitMs / 10))), signal);
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export interface FollowTenantsOptions extends TenantBucketOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  logger: Logger;
  /** Starts the tenant's consumer (one-at-a-time or batch); called once per announced (and admitted) tenant. */
  start(tenant: string): TenantWorker;
  /** Tenants run whatever the registry says (never stopped by a retraction). */
  always?: readonly string[];
  /** Tenants never to run, even if announced. */
  skip?: readonly string[];
  /** Runs a tenant only while the gate admits it; see TenantGate. Default: every tenant. */
  gate?: TenantGate;
  /** The tenant's durable; needed with a gate that fences (beforeStart). */
  durableFor?(tenant: string): string;
}

/**
 * The tenant lifecycle every per-tenant consumer shares: start one worker per announced tenant
 * (that the gate admits), stop it when the gate stops admitting it, and on retraction stop it
 * and delete its durable; `stop()` stops all and keeps the durables. Resolves once the tenants
 * that already existed (and are admitted) have workers.
 */
export async function followTenants(options: FollowTenantsOptions): Promise<TenantConsumers> {
  const { jsm, stream, logger, gate } = options;
  const known = new Set<string>();
  const running = new Map<string, TenantWorker>();
  const always = new Set(options.always ?? []);
  const skip = new Set(options.skip ?? []);
  let following = true;

  const admitted = (tenant: string): boolean => following && known.has(tenant) && !skip.has(tenant) && (gate?.admits(tenant) ?? true);

  const start = (tenant: string): void => {
    const fence = gate?.beforeStart?.bind(gate);
    const worker = fence !== undefined && options.durableFor !== undefined ? fenced(tenant, options.durableFor(tenant), fence) : options.start(tenant);
    running.set(tenant, worker);
    logger.info({ tenant, stream, durable: worker.durable }, 'tenant consumer started');
  };

  /** A worker that starts once the previous holder's messages are out of the way. */
  const fenced = (tenant: string, durable: string, beforeStart: NonNullable<TenantGate['beforeStart']>): TenantWorker => {
    const abort = new AbortController();
    let inner: TenantWorker | undefined;
    const ready = beforeStart(tenant, durable, abort.signal)
      .catch((err: unknown) => logger.warn({ err, tenant, durable }, 'takeover fence failed; starting anyway'))
      .then(() => {
        if (!abort.signal.aborted) inner = options.start(tenant);
      });
    return {
      durable,
      async stop() {
        abort.abort();
        await ready;
        await inner?.stop();
      },
    };
  };

  const stopWorker = async (tenant: string, why: string): Promise<void> => {
    const worker = running.get(tenant);
    if (worker === undefined) return;
    running.delete(tenant);
    await worker.stop();
    logger.info({ tenant, stream, durable: worker.durable, why }, 'tenant consumer stopped');
  };

  /** Starts what is admitted and not running, stops what runs and is no longer admitted. */
  const reconcile = async (): Promise<void> => {
    const stops: Promise<void>[] = [];
    for (const tenant of known) if (admitted(tenant) && !running.has(tenant)) start(tenant);
    for (const tenant of [...running.keys()]) if (!admitted(tenant)) stops.push(stopWorker(tenant, 'no longer admitted by the gate'));
    await Promise.all(stops);
  };

  const onAdded = (tenant: string): void => {
    known.add(tenant);
    if (admitted(tenant) && !running.has(tenant)) start(tenant);
  };

  const onRemoved = async (tenant: string): Promise<void> => {
    if (always.has(tenant)) return;
    known.delete(tenant);
    const worker = running.get(tenant);
    // With a gate, the replica running the tenant deletes its durable; the others never read it.
    if (worker === undefined) return;
    await stopWorker(tenant, 'retracted');
    await deleteDurableConsumer(jsm, stream, worker.durable);
    logger.info({ tenant, stream, durable: worker.durable }, 'tenant retracted; durable deleted');
  };

  for (const tenant of always) onAdded(tenant);
  // Subscribed before watching, so no admission change between the two is missed.
  const unlisten = gate?.listen(reconcile);
  const watch = await watchTenants(options.js, {
    ...(options.bucket !== undefined ? { bucket: options.bucket } : {}),
    onAdded,
    onRemoved,
    logger,
  });
  await watch.ready;

  return {
    tenants: () => [...running.keys()].sort(),
    async stop() {
      following = false;
      unlisten?.();
      await watch.stop();
      const all = [...running.values()];
      running.clear();
      await Promise.all(all.map((w) => w.stop()));
    },
  };
}
