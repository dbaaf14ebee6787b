import { Counter, Gauge } from 'prom-client';
import type { Registry } from '@switchyard/runtime';

export interface CaptureMetrics {
  /** Events acknowledged by INGEST (a duplicate ack counts too: the event is there). */
  captured: Counter<'tenant' | 'instance' | 'type'>;
  publishFailures: Counter<'tenant' | 'instance'>;
  seqFailures: Counter<'tenant' | 'instance'>;
  /** Captured but not yet acknowledged by INGEST; lost on a crash until the durable outbox lands. */
  pending: Gauge<'tenant' | 'instance'>;
  skipped: Counter<'tenant' | 'instance' | 'reason'>;
  rawDropped: Counter<'tenant' | 'instance'>;
}

export function captureMetrics(registry: Registry): CaptureMetrics {
  return {
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
    seqFailures: new Counter({
      name: 'capture_seq_allocation_failures_total',
      help: 'Failed per-instance seq allocations in Postgres (each is retried with backoff)',
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
  };
}
