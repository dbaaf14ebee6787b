import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { forTenant } from '@switchyard/db';
import { TENANT_BUCKET } from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import { isValidInstanceId, isValidTenantId } from '@switchyard/schema';
import { startService, type RunningService, type ServiceContext } from '@switchyard/service';
import {
  attachCaptureAdapter,
  type CaptureAdapter,
  type CaptureAdapterOptions,
} from './baileys-adapter.ts';
import type { CaptureConfig } from './config.ts';
import { LEASE_BUCKET, openLeaseBucket } from './lease-bucket.ts';
import { createIngestBatcher, type IngestBatcher } from './ingest-batcher.ts';
import { createNumbering, type Numbering } from './numbering.ts';
import { captureMetrics } from './metrics.ts';
import { createSessionControl, SESSION_CHANGED_SUBJECT } from './session-control.ts';
import { serveSessionControl } from './session-control-responder.ts';
import { createSessionManager, type SessionManager } from './session-manager.ts';
import { registerSessionRoutes } from './session-routes.ts';
import type { SpoolSettings } from './spool.ts';
import { recoverSpools } from './spool-replay.ts';
import { baileysSocketFactory, type SocketFactory } from './socket-factory.ts';

export interface CaptureOptions {
  logger?: Logger;
  tenantBucket?: string;
  /** Tests: the lease bucket (default `switchyard_capture_leases`). */
  leaseBucket?: string;
  /** Tests: sockets around Baileys' own event buffer instead of WhatsApp connections. */
  socketFactory?: SocketFactory;
}

/** What a session needs to hand over to start capturing: its Baileys emitter and who it belongs to. */
export type AttachSessionOptions = Pick<
  CaptureAdapterOptions,
  'ev' | 'tenant' | 'instance' | 'self' | 'willReconnect'
>;

export interface CaptureService extends RunningService {
  /**
   * Captures an emitter that is not a managed session (tools, tests, the benchmark) onto INGEST;
   * the adapter is drained on shutdown. Managed sessions attach themselves.
   */
  attach(session: AttachSessionOptions): CaptureAdapter;
  /** The sessions this replica runs (tests observe ownership through it). */
  readonly sessions: SessionManager;
  readonly replicaId: string;
}

/**
 * Capture: WhatsApp sessions through Baileys → envelope events on INGEST, in order, with a
 * per-instance seq, through a local spool (and a durable Postgres outbox while NATS is failing).
 *
 * Sessions are declared in each tenant's `wa_sessions` (through `/api/sessions` or the CLI) and
 * run by whichever replica holds the instance's lease; see session-manager.ts for the ownership
 * rules and session-runner.ts for one session's lifecycle.
 */
export async function startCapture(
  config: CaptureConfig,
  options: CaptureOptions = {},
): Promise<CaptureService> {
  const adapters = new Set<CaptureAdapter>();
  const replicaId = config.CAPTURE_REPLICA_ID ?? defaultReplicaId();
  let wired: Pick<CaptureService, 'attach' | 'sessions'> | undefined;

  const running = await startService({
    service: 'capture',
    config,
    openapi: {
      title: 'Switchyard capture',
      version: '1.0.0',
      description: 'WhatsApp sessions: create, connect (QR or pairing code), status, logout, delete',
    },
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.tenantBucket ? { tenantBucket: options.tenantBucket } : {}),
    // Every statement of capture finds its rows by primary key, so one generic plan per prepared
    // statement serves all calls. Left to choose, Postgres planned the numbering statement (run
    // for every batch of every instance) afresh on each call, 0.17 ms of planning for 0.09 ms of
    // running it: with the request arrays' lengths known, a custom plan always looks cheaper.
    postgresSettings: { plan_cache_mode: 'force_generic_plan' },
    async wire(ctx) {
      const metrics = captureMetrics(ctx.registry);
      // One way onto INGEST for every instance of this replica: what they publish in one turn
      // goes as atomic batches (ingest-batcher.ts).
      const ingest = createIngestBatcher({ nc: ctx.nc, js: ctx.js, logger: ctx.logger, batches: metrics.ingestBatches });
      // And one numbering statement per tenant at a time for all of its instances (numbering.ts).
      const numbering = createNumbering();
      const sessions = await wireSessions(ctx, config, options, replicaId, metrics, ingest, numbering);
      const attach: CaptureService['attach'] = (session) => {
        const adapter = attachCaptureAdapter({
          ...session,
          js: ctx.js,
          ingest,
          numbering,
          db: forTenant(ctx.pool, session.tenant),
          logger: ctx.logger,
          metrics,
          publishTimeoutMs: config.CAPTURE_PUBLISH_TIMEOUT,
          publishWindow: config.CAPTURE_PUBLISH_WINDOW,
          spool: spoolSettings(config),
          backoff: { initialMs: config.CAPTURE_RETRY_INITIAL, maxMs: config.CAPTURE_RETRY_MAX },
        });
        adapters.add(adapter);
        return adapter;
      };
      wired = { attach, sessions };
      ctx.onShutdown('stop-intake', 'baileys emitters', async () => {
        for (const adapter of adapters) adapter.detach();
      });
      // Captured events are in the outbox already or reach it within the publisher's close
      // grace; publishing what is left can wait for whoever runs the instance next. Half the
      // shutdown budget is spent relaying while NATS is still open.
      ctx.onShutdown('drain', 'ingest publishers', async () => {
        const all = [...adapters];
        await Promise.race([
          Promise.all(all.map((a) => a.idle())),
          delay(config.SHUTDOWN_TIMEOUT / 2),
        ]);
        await Promise.all(all.map((a) => a.close()));
      });
    },
  });
  if (wired === undefined) throw new Error('capture wiring did not run');
  return { ...running, ...wired, replicaId };
}

async function wireSessions(
  ctx: ServiceContext,
  config: CaptureConfig,
  options: CaptureOptions,
  replicaId: string,
  metrics: ReturnType<typeof captureMetrics>,
  ingest: IngestBatcher,
  numbering: Numbering,
): Promise<SessionManager> {
  const leases = await openLeaseBucket(ctx.js, {
    bucket: options.leaseBucket ?? LEASE_BUCKET,
    ttlMs: config.CAPTURE_LEASE_TTL,
  });
  // Sessions run for the tenants in the registry (what `tenant create` announces), the same
  // source every service's consumers follow.
  const tenantKv = await ctx.js.views.kv(options.tenantBucket ?? TENANT_BUCKET, { history: 1 });
  const tenants = async (): Promise<string[]> => {
    const out: string[] = [];
    for await (const key of await tenantKv.keys()) if (isValidTenantId(key)) out.push(key);
    return out;
  };
  // Before any session starts: what a crash left in the local spools goes to the outbox first,
  // so it takes lower seqs than anything captured from now on.
  await recoverSpools({
    dir: config.CAPTURE_SPOOL_DIR,
    pool: ctx.pool,
    js: ctx.js,
    publishTimeoutMs: config.CAPTURE_PUBLISH_TIMEOUT,
    tenants: await tenants(),
    logger: ctx.logger,
    metrics,
  });
  const sessions = createSessionManager({
    js: ctx.js,
    ingest,
    numbering,
    pool: ctx.pool,
    logger: ctx.logger,
    metrics,
    leases,
    replicaId,
    tenants,
    socketFactory: options.socketFactory ?? baileysSocketFactory,
    leaseTtlMs: config.CAPTURE_LEASE_TTL,
    claimIntervalMs: config.CAPTURE_CLAIM_INTERVAL,
    rebalanceIntervalMs: config.CAPTURE_REBALANCE_INTERVAL,
    reconnect: { initialMs: config.CAPTURE_RECONNECT_INITIAL, maxMs: config.CAPTURE_RECONNECT_MAX },
    publishTimeoutMs: config.CAPTURE_PUBLISH_TIMEOUT,
    publishBackoff: { initialMs: config.CAPTURE_RETRY_INITIAL, maxMs: config.CAPTURE_RETRY_MAX },
    publishWindow: config.CAPTURE_PUBLISH_WINDOW,
    spool: spoolSettings(config),
  });

  // A change made through any replica reaches the owner at once; the claim loop is the fallback.
  const encoder = new TextEncoder();
  const announce = (tenant: string, instance: string): void =>
    ctx.nc.publish(SESSION_CHANGED_SUBJECT, encoder.encode(JSON.stringify({ tenant, instance })));
  const changes = ctx.nc.subscribe(SESSION_CHANGED_SUBJECT, {
    callback: (err, msg) => {
      if (err) return;
      const change = readChange(msg.data);
      if (change) sessions.poke(change.tenant, change.instance);
    },
  });
  const control = createSessionControl(ctx.pool, announce);
  registerSessionRoutes(ctx.http, control);
  const controlSub = serveSessionControl(ctx.nc, control, ctx.logger);

  ctx.onShutdown('stop-intake', 'whatsapp sessions', async () => {
    changes.unsubscribe();
    controlSub.unsubscribe();
    await sessions.stop();
  });
  sessions.start();
  return sessions;
}

function readChange(data: Uint8Array): { tenant: string; instance: string } | undefined {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(data));
    if (typeof value !== 'object' || value === null) return undefined;
    const { tenant, instance } = value as Record<string, unknown>;
    if (typeof tenant !== 'string' || typeof instance !== 'string') return undefined;
    if (!isValidTenantId(tenant) || !isValidInstanceId(instance)) return undefined;
    return { tenant, instance };
  } catch {
    return undefined;
  }
}

function spoolSettings(config: CaptureConfig): SpoolSettings {
  return { dir: config.CAPTURE_SPOOL_DIR, fsync: config.CAPTURE_SPOOL_FSYNC };
}

function defaultReplicaId(): string {
  // KV keys allow [-/_=.a-zA-Z0-9]; host names may hold other characters.
  const host = hostname().replace(/[^a-zA-Z0-9_-]/g, '-').slice(0, 40);
  return `${host}-${randomBytes(3).toString('hex')}`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
