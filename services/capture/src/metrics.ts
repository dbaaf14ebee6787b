import { Counter, Gauge } from 'prom-client';
import type { Registry } from '@switchyard/runtime';
import { sessionMetrics, type SessionMetrics } from './session-metrics.ts';

export interface CaptureMetrics {
  /** Events acknowledged by INGEST (a duplicate ack counts too: the event is there). */
  captured: Counter<'tenant' | 'instance' | 'type'>;
  publishFailures: Counter<'tenant' | 'instance'>;
  /** Events JetStream stored ahead of an earlier one whose publish failed (an order inversion on INGEST). */
  publishReordered: Counter<'tenant' | 'instance'>;
  /** Spooled events stored into the outbox by a replay (after a crash or an unclean stop). */
  spoolReplayed: Counter<'tenant' | 'instance'>;
  seqFailures: Counter<'tenant' | 'instance'>;
  /** Captured but not yet acknowledged by INGEST (staged in memory or waiting in the outbox). */
  pending: Gauge<'tenant' | 'instance'>;
  skipped: Counter<'tenant' | 'instance' | 'reason'>;
  rawDropped: Counter<'tenant' | 'instance'>;
  /** Atomic batches onto INGEST by outcome: stored, or refused/unanswered (the rest then sent one by one). */
  ingestBatches: Counter<'outcome'>;
  /** Reports an instance's outbox on every scrape until the returned function is called. */
  trackOutbox(source: OutboxSource): () => void;
  /** Session lifecycle, for the session manager (see session-metrics.ts). */
  sessions: SessionMetrics;
}

/** What an ingest publisher knows about its instance's outbox. */
export interface OutboxSource {
  tenant: string;
  instance: string;
  size(): number;
  /** Epoch ms the oldest waiting entry was stored; undefined when empty. */
  oldestAt(): number | undefined;
}

export function captureMetrics(registry: Registry): CaptureMetrics {
  const outboxes = new Set<OutboxSource>();
  // Collected at scrape time: the oldest entry's age grows while nothing changes, so a value
  // set on writes would go stale exactly when the relay is stuck.
  const outboxSize: Gauge<'tenant' | 'instance'> = new Gauge({
    name: 'capture_outbox_size',
    help: 'Captured events waiting for an INGEST acknowledgement: published from the local spool, or stored in the Postgres outbox while NATS is failing',
    labelNames: ['tenant', 'instance'],
    registers: [registry],
    collect() {
      outboxSize.reset();
      for (const o of outboxes) outboxSize.set({ tenant: o.tenant, instance: o.instance }, o.size());
    },
  });
  const outboxAge: Gauge<'tenant' | 'instance'> = new Gauge({
    name: 'capture_outbox_oldest_age_seconds',
    help: 'Age of the oldest event waiting in the durable outbox (0 when empty)',
    labelNames: ['tenant', 'instance'],
    registers: [registry],
    collect() {
      outboxAge.reset();
      const now = Date.now();
      for (const o of outboxes) {
        const oldest = o.oldestAt();
        outboxAge.set(
          { tenant: o.tenant, instance: o.instance },
          oldest === undefined ? 0 : Math.max(0, (now - oldest) / 1000),
        );
      }
    },
  });
  return {
    trackOutbox(source) {
      outboxes.add(source);
      return () => outboxes.delete(source);
    },
    sessions: sessionMetrics(registry),
    captured: new Counter({
      name: 'events_captured_total',
      help: 'Events captured from Baileys and acknowledged by INGEST',
      labelNames: ['tenant', 'instance', 'type'],
      registers: [registry],
    }),
    publishFailures: new Counter({
      name: 'capture_publish_failures_total',
      help: 'Failed INGEST publish attempts (each is retried with backoff)',
      labelNames: ['tenant', 'instance'],
      registers: [registry],
    }),
    publishReordered: new Counter({
      name: 'capture_publish_reordered_total',
      help: 'Events INGEST stored before an earlier event of the same instance whose publish failed',
      labelNames: ['tenant', 'instance'],
      registers: [registry],
    }),
    spoolReplayed: new Counter({
      name: 'capture_spool_replayed_total',
      help: 'Events replayed from the local spool into the outbox after a crash or an unclean stop',
      labelNames: ['tenant', 'instance'],
      registers: [registry],
    }),
    seqFailures: new Counter({
      name: 'capture_seq_allocation_failures_total',
      help: 'Failed outbox writes, reads and deletes in Postgres (each is retried with backoff)',
      labelNames: ['tenant', 'instance'],
      registers: [registry],
    }),
    pending: new Gauge({
      name: 'capture_pending_events',
      help: 'Captured events waiting to be acknowledged by INGEST',
      labelNames: ['tenant', 'instance'],
      registers: [registry],
    }),
    skipped: new Counter({
      name: 'capture_messages_skipped_total',
      help: 'Baileys messages that produce no event (no key, stub-only, protocol, no content, duplicate, mapping error), by reason',
      labelNames: ['tenant', 'instance', 'reason'],
      registers: [registry],
    }),
    rawDropped: new Counter({
      name: 'capture_raw_dropped_total',
      help: 'Events published without data.raw because the full message exceeded the NATS max payload',
      labelNames: ['tenant', 'instance'],
      registers: [registry],
    }),
    ingestBatches: new Counter({
      name: 'capture_ingest_batches_total',
      help: 'Atomic batches of events (all instances of this replica) published to INGEST, by outcome: stored, or refused (or unanswered) with the rest of the turn then published one event at a time',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}
