import {
  assertTenantId,
  durableName,
  isValidTenantId,
  STREAMS,
  SYSTEM_TENANT,
  tenantFilterSubject,
  type StreamKind,
} from '@switchyard/schema';
import type { JetStreamClient, JetStreamManager, KV, KvEntry, QueuedIterator } from 'nats';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { startConsumer } from './consume.ts';
import { deleteDurableConsumer } from './consumers.ts';
import type { Handler } from './outcome.ts';

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
      });
    },
  });
}

/** What runs for one tenant: something with a durable that can be stopped. */
export interface TenantWorker {
  readonly durable: string;
  stop(): Promise<void>;
}

export interface FollowTenantsOptions extends TenantBucketOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  logger: Logger;
  /** Starts the tenant's consumer (one-at-a-time or batch); called once per announced tenant. */
  start(tenant: string): TenantWorker;
  /** Tenants run whatever the registry says (never stopped by a retraction). */
  always?: readonly string[];
  /** Tenants never to run, even if announced. */
  skip?: readonly string[];
}

/**
 * The tenant lifecycle every per-tenant consumer shares: start one worker per announced tenant,
 * and on retraction stop it and delete its durable; `stop()` stops all and keeps the durables.
 * Resolves once the tenants that already existed have workers.
 */
export async function followTenants(options: FollowTenantsOptions): Promise<TenantConsumers> {
  const { jsm, stream, logger } = options;
  const running = new Map<string, TenantWorker>();
  const always = new Set(options.always ?? []);
  const skip = new Set(options.skip ?? []);

  const onAdded = (tenant: string): void => {
    if (running.has(tenant) || skip.has(tenant)) return;
    const worker = options.start(tenant);
    running.set(tenant, worker);
    logger.info({ tenant, stream, durable: worker.durable }, 'tenant consumer started');
  };

  const onRemoved = async (tenant: string): Promise<void> => {
    const worker = running.get(tenant);
    if (worker === undefined || always.has(tenant)) return;
    running.delete(tenant);
    await worker.stop();
    await deleteDurableConsumer(jsm, stream, worker.durable);
    logger.info({ tenant, stream, durable: worker.durable }, 'tenant retracted; consumer stopped and durable deleted');
  };

  for (const tenant of always) onAdded(tenant);
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
      await watch.stop();
      const all = [...running.values()];
      running.clear();
      await Promise.all(all.map((w) => w.stop()));
    },
  };
}
