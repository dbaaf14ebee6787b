import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { JetStreamClient, JetStreamManager, NatsConnection } from 'nats';
import type pg from 'pg';
import { checkPostgres, createPool, migrateControl, pingPostgres, verifyApiKey } from '@switchyard/db';
import { createHttpServer, listen, type BoundAddress, type HttpServer } from '@switchyard/http';
import {
  connectNats,
  ensureStreams,
  isNatsConnected,
  startOwnership,
  startTenantConsumers,
  type Handler,
  type PartitionOwnership,
  type StartOwnershipOptions,
  type TenantConsumerOptions,
  type TenantConsumers,
} from '@switchyard/nats';
import {
  createLogger,
  createMetricsRegistry,
  ShutdownController,
  startTracing,
  type Logger,
  type Registry,
  type ShutdownPhase,
} from '@switchyard/runtime';
import type { StreamKind } from '@switchyard/schema';
import type { BaseServiceConfig } from './base-config.ts';

/** What a service's wiring gets: live connections and ways to hook into start and stop. */
export interface ServiceContext {
  readonly service: string;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly pool: pg.Pool;
  readonly http: HttpServer;
  /** This process among the service's replicas (host name and a random suffix): its id in leases. */
  readonly replicaId: string;
  /**
   * Single ownership of `partitions` across the service's replicas (see @switchyard/nats
   * ownership.ts). Released on shutdown in the drain phase — after stop-intake stopped the
   * consumers it gates — so another replica takes over at once.
   */
  ownPartitions(options: Omit<StartOwnershipOptions, 'js' | 'replicaId' | 'logger'>): Promise<PartitionOwnership>;
  /**
   * One durable per announced tenant on the stream of `kind`, stopped on shutdown. With
   * `options.gate`, only for the tenants the gate admits (e.g. `partitionGate(ownership)`).
   */
  consumeTenants(kind: StreamKind, handlerFor: (tenant: string) => Handler, options?: TenantConsumerOptions): Promise<TenantConsumers>;
  /** Registers a step to run on shutdown (stop-intake → drain → close). */
  onShutdown(phase: ShutdownPhase, name: string, step: () => Promise<void>): void;
}

export interface ServiceDefinition<C extends BaseServiceConfig> {
  service: string;
  config: C;
  openapi?: { title: string; version: string; description?: string };
  /** Adds routes and starts consumers; runs after connections are up, before listening. */
  wire(ctx: ServiceContext): Promise<void>;
  /** Tests: inject a logger (e.g. silent) instead of one built from LOG_LEVEL. */
  logger?: Logger;
  /** Tests: the tenant registry bucket (defaults to the production one). */
  tenantBucket?: string;
  /** Server settings for every connection of the service's pool (`PoolOptions.settings`). */
  postgresSettings?: Readonly<Record<string, string>>;
}

export interface RunningService {
  readonly context: ServiceContext;
  readonly address: BoundAddress;
  /** Stops intake, waits for in-flight work, closes NATS and Postgres. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Brings a service up in the order that keeps its invariants: Postgres and NATS reachable (or a
 * clear error), control schema migrated and streams declared (both idempotent, safe to race),
 * HTTP surface and consumers wired, then listening. Shutdown runs in the reverse order.
 */
export async function startService<C extends BaseServiceConfig>(def: ServiceDefinition<C>): Promise<RunningService> {
  const { config, service } = def;
  const logger = def.logger ?? createLogger({ service, level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });
  const tracing = startTracing({ serviceName: config.OTEL_SERVICE_NAME ?? service, endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });
  const registry = createMetricsRegistry(service);
  const shutdown = new ShutdownController({ logger, timeoutMs: config.SHUTDOWN_TIMEOUT });
  shutdown.register('close', 'tracing', () => tracing.shutdown());

  await checkPostgres(config.DATABASE_URL);
  const pool = createPool({
    url: config.DATABASE_URL,
    max: config.DATABASE_POOL_MAX,
    applicationName: `switchyard-${service}`,
    ...(def.postgresSettings ? { settings: def.postgresSettings } : {}),
    // The query that was using the connection fails and is retried by its caller; this says why.
    onError: (err) => logger.warn({ err }, 'postgres connection lost; it will be re-established'),
  });
  shutdown.register('close', 'postgres', () => pool.end());
  await migrateControl(pool);

  const nc = await connectNats({ url: config.NATS_URL, name: `switchyard-${service}`, logger, timeoutMs: config.NATS_CONNECT_TIMEOUT, ...(config.NATS_CREDS !== undefined ? { credsFile: config.NATS_CREDS } : {}) });
  shutdown.register('close', 'nats', () => nc.drain());
  const jsm = await nc.jetstreamManager();
  await ensureStreams(jsm);
  const js = nc.jetstream();

  const http = await createHttpServer({
    service,
    logger,
    registry,
    readiness: async () => ({ nats: isNatsConnected(nc), postgres: await pingPostgres(pool) }),
    verifyApiKey: (key) => verifyApiKey(pool, key),
    ...(def.openapi ? { openapi: def.openapi } : {}),
  });
  shutdown.register('stop-intake', 'http', () => http.close());

  const replicaId = `${hostname()}-${randomBytes(3).toString('hex')}`;
  const context: ServiceContext = {
    service,
    replicaId,
    logger,
    registry,
    nc,
    js,
    jsm,
    pool,
    http,
    async consumeTenants(kind, handlerFor, options) {
      const consumers = await startTenantConsumers({
        js,
        jsm,
        service,
        kind,
        handlerFor,
        logger,
        registry,
        ...(options ? { consumerOptions: options } : {}),
        ...(def.tenantBucket ? { bucket: def.tenantBucket } : {}),
      });
      // Stopping consumers waits for in-flight handlers, so it covers both intake and drain.
      shutdown.register('stop-intake', `${kind} consumers`, () => consumers.stop());
      return consumers;
    },
    async ownPartitions(options) {
      const ownership = await startOwnership({ ...options, js, replicaId, logger });
      shutdown.register('drain', `${options.name} ownership`, () => ownership.stop());
      return ownership;
    },
    onShutdown: (phase, name, step) => shutdown.register(phase, name, step),
  };

  try {
    await def.wire(context);
    const address = await listen(http, { host: config.HTTP_HOST, port: config.HTTP_PORT });
    shutdown.lifecycle.transition('RUNNING');
    logger.info({ address: address.url }, `${service} running`);
    return {
      context,
      address,
      stop: async () => {
        await shutdown.shutdown();
      },
    };
  } catch (err) {
    await shutdown.shutdown();
    throw err;
  }
}
