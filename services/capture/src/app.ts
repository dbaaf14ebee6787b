import { forTenant } from '@switchyard/db';
import type { Logger } from '@switchyard/runtime';
import { startService, type RunningService } from '@switchyard/service';
import {
  attachCaptureAdapter,
  type CaptureAdapter,
  type CaptureAdapterOptions,
} from './baileys-adapter.ts';
import type { CaptureConfig } from './config.ts';
import { captureMetrics } from './metrics.ts';

export interface CaptureOptions {
  logger?: Logger;
  tenantBucket?: string;
}

/** What a session needs to hand over to start capturing: its Baileys emitter and who it belongs to. */
export type AttachSessionOptions = Pick<
  CaptureAdapterOptions,
  'ev' | 'tenant' | 'instance' | 'self' | 'willReconnect'
>;

export interface CaptureService extends RunningService {
  /** Starts capturing one session's events onto INGEST; the adapter is drained on shutdown. */
  attach(session: AttachSessionOptions): CaptureAdapter;
}

/**
 * Capture: Baileys sessions → envelope events on INGEST, in order, with a per-instance seq.
 *
 * It starts with no live sessions. Owning the WhatsApp sockets (auth state storage, QR pairing,
 * reconnects, one socket per instance across replicas) is a later issue; that session manager
 * will call `attach` with each socket's `ev`. Until then `attach` is how tests and tools drive it.
 */
export async function startCapture(
  config: CaptureConfig,
  options: CaptureOptions = {},
): Promise<CaptureService> {
  const adapters = new Set<CaptureAdapter>();
  let attach: CaptureService['attach'] | undefined;

  const running = await startService({
    service: 'capture',
    config,
    ...options,
    async wire(ctx) {
      const metrics = captureMetrics(ctx.registry);
      attach = (session) => {
        const adapter = attachCaptureAdapter({
          ...session,
          js: ctx.js,
          db: forTenant(ctx.pool, session.tenant),
          logger: ctx.logger,
          metrics,
          publishTimeoutMs: config.CAPTURE_PUBLISH_TIMEOUT,
          backoff: { initialMs: config.CAPTURE_RETRY_INITIAL, maxMs: config.CAPTURE_RETRY_MAX },
        });
        adapters.add(adapter);
        return adapter;
      };
      ctx.onShutdown('stop-intake', 'baileys sessions', async () => {
        for (const adapter of adapters) adapter.detach();
      });
      // Publish what was captured while NATS and Postgres are still open; the close phase runs
      // its steps in parallel, so this cannot wait until then. Half the shutdown budget is kept
      // for closing connections; what is left unpublished is logged (the outbox will keep it).
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
  if (attach === undefined) throw new Error('capture wiring did not run');
  return { ...running, attach };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
