import { listExhausted, type ExhaustedEvent } from '@switchyard/db';
import { publishEvent, publishToDlq } from '@switchyard/nats';
import { dlqSubject, SYSTEM_TENANT, type DlqRecord } from '@switchyard/schema';
import { eventually, randomTenantId } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryPayload, dlqRecord, encodeText, startHarness, type Harness } from './test-support.ts';

let h: Harness;
let tenantA: string;
let tenantB: string;

beforeAll(async () => {
  h = await startHarness();
  tenantA = await h.addTenant();
  tenantB = await h.addTenant();
});
afterAll(async () => {
  await h.stop();
});

async function rowsOf(tenant: string, match: (row: ExhaustedEvent) => boolean): Promise<ExhaustedEvent[]> {
  return (await listExhausted(h.pool, tenant, { limit: 1000 })).filter(match);
}

function eventuallyRow(tenant: string, match: (row: ExhaustedEvent) => boolean, what: string): Promise<ExhaustedEvent> {
  return eventually(async () => (await rowsOf(tenant, match))[0], 20_000, what);
}

const byKey = (record: DlqRecord) => (row: ExhaustedEvent) => row.sourceSeq === record.source_seq && row.consumer === record.consumer;
const claimedBy = (tenant: string) => (row: ExhaustedEvent) => row.claimedTenant === tenant;

describe("a tenant's DLQ", () => {
  it('turns a DlqRecord into one exhausted row with the payload bytes and attempts intact', async () => {
    const payload = binaryPayload();
    const record = dlqRecord(tenantA, payload);
    await publishToDlq(h.js, record);
    const row = await eventuallyRow(tenantA, byKey(record), 'the exhausted row');
    expect(row.payload.equals(Buffer.from(payload))).toBe(true);
    expect(row.attempts).toEqual(record.attempts);
    expect(row).toMatchObject({
      eventId: record.event_id,
      service: 'persistence',
      sourceStream: 'EVENTS',
      sourceSubject: record.source_subject,
      reason: 'MAX_DELIVERIES',
      error: 'postgres unavailable',
      deliveries: 5,
      headers: record.headers,
      status: 'open',
      claimedTenant: null,
    });
    const recorded = await h.service.context.registry.getSingleMetric('dlq_events_total')?.get();
    expect(recorded?.values).toContainEqual(expect.objectContaining({ labels: { tenant: tenantA, reason: 'MAX_DELIVERIES' }, value: 1 }));
  });

  it('stores a record delivered twice once', async () => {
    const record = dlqRecord(tenantA, encodeText('{"id":"twice"}'));
    const bytes = encodeText(JSON.stringify(record));
    // Different Nats-Msg-Ids, so JetStream stores both copies and the worker sees both.
    await publishEvent(h.js, dlqSubject(tenantA), bytes, { msgId: 'copy-1' });
    await publishEvent(h.js, dlqSubject(tenantA), bytes, { msgId: 'copy-2' });
    const later = dlqRecord(tenantA, encodeText('{"id":"after"}'));
    await publishToDlq(h.js, later);
    // The DLQ consumer is ordered (concurrency 1): once the later record is in, both copies were handled.
    await eventuallyRow(tenantA, byKey(later), 'the record after the copies');
    expect(await rowsOf(tenantA, byKey(record))).toHaveLength(1);
  });

  it('keeps garbage as a system row with SCHEMA_INVALID and the raw bytes', async () => {
    const garbage = new Uint8Array([0x6e, 0x6f, 0x74, 0x20, 0x6a, 0x73, 0x6f, 0x6e, 0xff]);
    await publishEvent(h.js, dlqSubject(tenantA), garbage, { msgId: 'garbage-1' });
    const row = await eventuallyRow(SYSTEM_TENANT, claimedBy(tenantA), 'the system row');
    expect(row.payload.equals(Buffer.from(garbage))).toBe(true);
    expect(row).toMatchObject({
      reason: 'SCHEMA_INVALID',
      retryable: false,
      service: 'dlq-worker',
      sourceStream: 'DLQ',
      sourceSubject: dlqSubject(tenantA),
      consumer: `dlq_worker_${tenantA}`,
    });
    expect(await rowsOf(tenantA, (r) => r.reason === 'SCHEMA_INVALID')).toEqual([]);
  });

  it('never writes a record into a tenant other than the one its subject names', async () => {
    const record = dlqRecord(tenantB, encodeText('{"from":"elsewhere"}'));
    await publishEvent(h.js, dlqSubject(tenantA), encodeText(JSON.stringify(record)), { msgId: 'cross-1' });
    const row = await eventuallyRow(SYSTEM_TENANT, (r) => claimedBy(tenantB)(r) && byKey(record)(r), 'the system row');
    expect(row.reason).toBe('MAX_DELIVERIES');
    expect(await rowsOf(tenantA, byKey(record))).toEqual([]);
    expect(await rowsOf(tenantB, byKey(record))).toEqual([]);
  });

  it('keeps a record Postgres cannot store as text (a NUL) as raw bytes under the system tenant', async () => {
    const record = dlqRecord(tenantB, encodeText('{}'), { error: 'bad \u0000 byte' });
    const bytes = encodeText(JSON.stringify(record));
    await publishToDlq(h.js, record);
    const row = await eventuallyRow(SYSTEM_TENANT, (r) => claimedBy(tenantB)(r) && r.reason === 'SCHEMA_INVALID', 'the system row');
    expect(row.payload.equals(Buffer.from(bytes))).toBe(true);
  });
});

describe('records without a tenant table', () => {
  it('records a tenant whose schema is gone under the system tenant, keeping the claimed tenant', async () => {
    const orphan = randomTenantId('gone');
    await h.announce(orphan);
    const payload = binaryPayload();
    const record = dlqRecord(orphan, payload);
    await publishToDlq(h.js, record);
    const row = await eventuallyRow(SYSTEM_TENANT, claimedBy(orphan), 'the orphan row');
    expect(row.payload.equals(Buffer.from(payload))).toBe(true);
    expect(row.dlqKey).toBe(`EVENTS:${record.source_seq}:${record.consumer}`);
  });

  it('consumes the system DLQ without any announcement', async () => {
    const claimed = randomTenantId('sys');
    try {
      const record = dlqRecord(claimed, encodeText('unattributable'), { sourceSubject: 'v1.ingest.BAD!.x.y' });
      await publishToDlq(h.js, record, { subject: dlqSubject(SYSTEM_TENANT) });
      const row = await eventuallyRow(SYSTEM_TENANT, byKey(record), 'the system DLQ row');
      expect(row.claimedTenant).toBe(claimed);
    } finally {
      await h.pool.query('DELETE FROM switchyard.exhausted_events WHERE claimed_tenant = $1', [claimed]);
    }
  });
});
