// Shared by this service's tests only: the real worker against a private NATS and the test database.
import { buildDlqRecord, type BuildDlqRecordInput } from '@switchyard/nats';
import type { DlqRecord } from '@switchyard/schema';
import type { RunningService } from '@switchyard/service';
import { startServiceHarness, type ServiceHarness } from '@switchyard/testing';
import { startDlqWorker } from './app.ts';
import { loadDlqWorkerConfig } from './config.ts';

export type Harness = ServiceHarness<RunningService>;

export function startHarness(): Promise<Harness> {
  return startServiceHarness({
    service: 'dlq-worker',
    env: { DLQ_RETRY_BACKOFF: '100ms' },
    tenantPrefix: 'd',
    start: (env, options) => startDlqWorker(loadDlqWorkerConfig(env), options),
    // System rows are shared by every test; remove only those naming this file's tenants.
    onStop: async ({ pool, tenants }) => {
      await pool.query('DELETE FROM switchyard.exhausted_events WHERE claimed_tenant = ANY($1)', [tenants]);
    },
  });
}

let seq = 0;

/** A DlqRecord as the consume loop builds it, for a message of `tenant` that failed in persistence. */
export function dlqRecord(tenant: string, payload: Uint8Array, overrides: Partial<BuildDlqRecordInput> = {}): DlqRecord {
  seq += 1;
  return buildDlqRecord({
    tenant,
    service: 'persistence',
    sourceStream: 'EVENTS',
    sourceSubject: `v1.events.${tenant}.phone-1.message.received`,
    sourceSeq: 1000 + seq,
    consumer: `persistence_${tenant}`,
    eventId: `evt-${seq}`,
    reason: 'MAX_DELIVERIES',
    error: 'postgres unavailable',
    deliveries: 5,
    attempts: [
      { at: '2026-01-01T10:00:00.000Z', service: 'persistence', delivery: 4, error: 'ECONNREFUSED' },
      { at: '2026-01-01T10:01:00.000Z', service: 'persistence', delivery: 5, error: 'postgres unavailable' },
    ],
    headers: { 'Nats-Msg-Id': [`evt-${seq}`], 'Content-Type': ['application/json'] },
    payload,
    ...overrides,
  });
}

/** Bytes no text decoder would accept unchanged, so a byte-for-byte comparison means something. */
export function binaryPayload(): Uint8Array {
  return new Uint8Array([0x7b, 0x00, 0xff, 0xfe, 0x22, 0x0a, seq & 0xff, 0x7d]);
}

export const encodeText = (text: string): Uint8Array => new TextEncoder().encode(text);
