import { randomBytes } from 'node:crypto';
import { SYSTEM_TENANT, type DlqRecord } from '@switchyard/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from 'pg';
import { TenantNotFoundError } from './errors.ts';
import {
  dlqKey,
  getExhausted,
  listExhausted,
  recordExhausted,
  setExhaustedStatus,
} from './exhausted.ts';
import { deleteTenant, provisionTenant } from './tenants.ts';
import { forgetMediaPurges } from './media-purges.ts';
import { openTestPool, randomTenant } from './test-helpers.ts';

let pool: Pool;
const tenant = randomTenant('x');
const stream = `EVENTS_${randomBytes(4).toString('hex')}`;
beforeAll(async () => {
  pool = await openTestPool();
  await provisionTenant(pool, tenant);
});
afterAll(async () => {
  await deleteTenant(pool, tenant);
  await forgetMediaPurges(pool, tenant);
  await pool.query('DELETE FROM switchyard.exhausted_events WHERE source_stream = $1', [stream]);
  await pool.end();
});

function record(seq: number, overrides: Partial<DlqRecord> = {}): DlqRecord {
  return {
    dlq_version: 1,
    tenant,
    service: 'persistence',
    source_stream: stream,
    source_subject: `v1.events.${tenant}.i1.message.received`,
    source_seq: seq,
    consumer: `persistence_${tenant}`,
    event_id: `evt-${seq}`,
    reason: 'HANDLER_ERROR',
    error: 'boom',
    retryable: true,
    deliveries: 5,
    attempts: [
      { at: '2024-05-01T10:00:00.000Z', service: 'persistence', delivery: 5, error: 'boom' },
    ],
    failed_at: '2024-05-01T10:00:01.000Z',
    headers: { 'Nats-Msg-Id': [`evt-${seq}`] },
    payload_base64: Buffer.from([0, 1, 2, 255, seq]).toString('base64'),
    ...overrides,
  };
}

describe('exhausted events', () => {
  it('records once per DLQ key and keeps the payload bytes', async () => {
    expect(await recordExhausted(pool, tenant, record(1))).toEqual({ inserted: true });
    expect(await recordExhausted(pool, tenant, record(1))).toEqual({ inserted: false });
    const rows = await listExhausted(pool, tenant, { limit: 10 });
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toMatchObject({
      dlqKey: dlqKey(record(1)),
      eventId: 'evt-1',
      sourceSeq: 1,
      reason: 'HANDLER_ERROR',
      status: 'open',
      headers: { 'Nats-Msg-Id': ['evt-1'] },
      claimedTenant: null,
    });
    expect(row.payload.equals(Buffer.from([0, 1, 2, 255, 1]))).toBe(true);
    expect(row.failedAt.toISOString()).toBe('2024-05-01T10:00:01.000Z');
    expect(row.attempts[0]?.error).toBe('boom');
  });

  it('filters by status and reason, newest first, and closes a row once', async () => {
    await recordExhausted(pool, tenant, record(2, { reason: 'SCHEMA_INVALID', retryable: false }));
    await recordExhausted(pool, tenant, record(3, { reason: 'SCHEMA_INVALID', retryable: false }));
    const invalid = await listExhausted(pool, tenant, { reason: 'SCHEMA_INVALID', limit: 10 });
    expect(invalid.map((r) => r.sourceSeq)).toEqual([3, 2]);
    const id = invalid[0]!.id;
    expect(await setExhaustedStatus(pool, tenant, id, 'requeued')).toBe(true);
    expect(await setExhaustedStatus(pool, tenant, id, 'discarded')).toBe(false);
    expect((await getExhausted(pool, tenant, id))?.requeuedAt).toBeInstanceOf(Date);
    const open = await listExhausted(pool, tenant, {
      status: 'open',
      reason: 'SCHEMA_INVALID',
      limit: 10,
    });
    expect(open.map((r) => r.sourceSeq)).toEqual([2]);
    const page = await listExhausted(pool, tenant, { limit: 10, beforeId: id });
    expect(page.map((r) => r.sourceSeq)).toEqual([2, 1]);
  });

  it('records unattributable messages in the control schema with the claimed tenant', async () => {
    const rec = record(4, { tenant: 'Not A Tenant' });
    expect(await recordExhausted(pool, SYSTEM_TENANT, rec)).toEqual({ inserted: true });
    expect(await recordExhausted(pool, SYSTEM_TENANT, rec)).toEqual({ inserted: false });
    const rows = await listExhausted(pool, SYSTEM_TENANT, { limit: 1000 });
    expect(rows.find((r) => r.dlqKey === dlqKey(rec))?.claimedTenant).toBe('Not A Tenant');
  });

  it('reports a tenant without a schema as TenantNotFoundError', async () => {
    await expect(recordExhausted(pool, randomTenant(), record(5))).rejects.toBeInstanceOf(
      TenantNotFoundError,
    );
  });
});
