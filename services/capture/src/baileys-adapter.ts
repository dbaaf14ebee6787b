import type { BaileysEventMap } from '@whiskeysockets/baileys';
import type { JetStreamClient } from 'nats';
import type { TenantQueryable } from '@switchyard/db';
import type { Logger } from '@switchyard/runtime';
import { assertInstanceId, assertTenantId } from '@switchyard/schema';
import type { BackoffOptions } from './backoff.ts';
import type { SelfIdentity, UnsequencedEvent } from './captured-event.ts';
import { createConnectionMapper } from './connection-mapper.ts';
import type { IngestBatcher } from './ingest-batcher.ts';
import type { Numbering } from './numbering.ts';
import { createIngestPublisher } from './ingest-publisher.ts';
import { createBatchMapper } from './mappers/batch-mapper.ts';
import type { MapSink } from './mappers/map-context.ts';
import type { CaptureMetrics } from './metrics.ts';
import { createRecentIds } from './recent-ids.ts';
import type { SpoolSettings } from './spool.ts';

/** The part of Baileys' buffered emitter (`sock.ev`, or `makeEventBuffer(logger)` in tests) we use. */
export interface BatchedEventSource {
  process(handler: (events: Partial<BaileysEventMap>) => void | Promise<void>): () => void;
}

export interface CaptureAdapterOptions {
  /** `sock.ev` of a Baileys socket, or `makeEventBuffer(logger)`. */
  ev: BatchedEventSource;
  tenant: string;
  instance: string;
  js: JetStreamClient;
  /** The process's shared INGEST batcher (app.ts makes one); without it, one publish per event. */
  ingest?: IngestBatcher;
  /** The process's shared seq numbering (app.ts makes one); default: the instance's own. */
  numbering?: Numbering;
  /** `forTenant(pool, tenant)`: where the instance's seq counter lives. */
  db: TenantQueryable;
  logger: Logger;
  metrics: CaptureMetrics;
  /** Who the socket is logged in as (`sock.user`), once known. */
  self?: () => SelfIdentity | undefined;
  /** Whether the session owner reconnects after a close with this status (see connection-mapper). */
  willReconnect?: (statusCode: number | undefined) => boolean;
  publishTimeoutMs?: number;
  /** PubAcks in flight (CAPTURE_PUBLISH_WINDOW). */
  publishWindow?: number;
  /** The local spool (CAPTURE_SPOOL_DIR, CAPTURE_SPOOL_FSYNC). */
  spool?: SpoolSettings;
  backoff?: BackoffOptions;
  maxPayloadBytes?: number;
  /**
   * Largest JSON of one history batch event's items; a history chunk is cut into parts of this
   * size. Default: half of `maxPayloadBytes` (512 KiB).
   */
  historyPartBytes?: number;
}

export interface CaptureAdapter {
  readonly tenant: string;
  readonly instance: string;
  /** Stops listening to Baileys; events already captured are still published. Idempotent. */
  detach(): void;
  /** Resolves when every event captured so far is acknowledged by INGEST. */
  idle(): Promise<void>;
  /** Captured events not yet acknowledged by INGEST. */
  pending(): number;
  /** Detaches and stops retrying; resolves with the number of events left unpublished. */
  close(): Promise<number>;
}

/**
 * Turns one WhatsApp session's Baileys events into envelope events on INGEST (every event kind
 * mappers/batch-mapper.ts lists, plus `connection.update`). It subscribes with
 * `ev.process`, the batched API: Baileys consolidates buffered events (history sync, offline
 * catch-up) into one map per flush, so a batch is handled in one go and numbered with a single
 * seq allocation. The handler is synchronous — map, enqueue, return — because the emitter does
 * not await it: anything slow or failing here would either block WhatsApp traffic or surface as
 * an unhandled rejection. Publishing happens behind the per-instance queue.
 */
export function attachCaptureAdapter(options: CaptureAdapterOptions): CaptureAdapter {
  const tenant = assertTenantId(options.tenant);
  const instance = assertInstanceId(options.instance);
  const { metrics } = options;
  const log = options.logger.child({ tenant, instance });
  const publisher = createIngestPublisher({
    js: options.js,
    ...(options.ingest ? { ingest: options.ingest } : {}),
    ...(options.numbering ? { numbering: options.numbering } : {}),
    db: options.db,
    tenant,
    instance,
    logger: options.logger,
    metrics,
    ...(options.publishTimeoutMs !== undefined
      ? { publishTimeoutMs: options.publishTimeoutMs }
      : {}),
    ...(options.backoff ? { backoff: options.backoff } : {}),
    ...(options.maxPayloadBytes !== undefined ? { maxPayloadBytes: options.maxPayloadBytes } : {}),
    ...(options.publishWindow !== undefined ? { publishWindow: options.publishWindow } : {}),
    ...(options.spool ? { spool: options.spool } : {}),
  });
  const mapConnection = createConnectionMapper({
    tenant,
    instance,
    ...(options.self ? { self: options.self } : {}),
    ...(options.willReconnect ? { willReconnect: options.willReconnect } : {}),
  });

  const mapBatch = createBatchMapper({
    tenant,
    instance,
    self: options.self,
    historyPartBytes:
      options.historyPartBytes ??
      (options.maxPayloadBytes !== undefined ? Math.floor(options.maxPayloadBytes / 2) : undefined),
  });
  const recentIds = createRecentIds();

  /** Collects one batch's events; a deterministic id seen moments ago is a Baileys repeat. */
  function sinkInto(events: UnsequencedEvent[]): MapSink {
    return {
      emit(event) {
        if (recentIds.remember(event.id)) {
          events.push(event);
          return;
        }
        metrics.skipped.inc({ tenant, instance, reason: 'duplicate' });
        log.debug({ event_id: event.id, type: event.type }, 'event already captured');
      },
      skip(reason, detail) {
        metrics.skipped.inc({ tenant, instance, reason });
        log.debug({ reason, detail }, 'Baileys payload skipped');
      },
      fail(err, what) {
        // One malformed item must not cost the rest of the batch; the item is not logged
        // because it may hold message bodies.
        metrics.skipped.inc({ tenant, instance, reason: 'error' });
        log.error({ err, what }, 'failed to map a Baileys payload');
      },
    };
  }

  function handle(batch: Partial<BaileysEventMap>): void {
    const capturedAt = new Date();
    const events: UnsequencedEvent[] = [];
    // Connection changes first: a flush that carries both reports the session state the messages arrived under.
    const connection = batch['connection.update'];
    if (connection) events.push(...mapConnection(connection, capturedAt));
    mapBatch(batch, capturedAt, sinkInto(events));
    publisher.enqueue(events);
  }

  let unsubscribe: (() => void) | undefined = options.ev.process((batch) => {
    try {
      handle(batch);
    } catch (err) {
      // A mapper bug must not take the socket down with an unhandled rejection; the raw batch
      // is not logged because it holds message bodies.
      log.error({ err, events: Object.keys(batch) }, 'failed to capture a Baileys event batch');
    }
  });

  const detach = (): void => {
    unsubscribe?.();
    unsubscribe = undefined;
  };

  return {
    tenant,
    instance,
    detach,
    idle: () => publisher.idle(),
    pending: () => publisher.pending(),
    async close() {
      detach();
      return publisher.close();
    },
  };
}
