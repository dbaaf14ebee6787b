import { createPool, deleteTenant, forgetMediaPurges, forTenant, provisionTenant } from '@switchyard/db';
import { publishEvent } from '@switchyard/nats';
import { dlqRecordSchema, dlqSubject, eventsSubject, STREAMS, type DlqRecord } from '@switchyard/schema';
import { eventually, randomTenantId, testLogger } from '@switchyard/testing';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { persistenceMetrics } from './metrics.ts';
import { persistEvent } from './persist-event.ts';
import { encodeJson, messageReceived, startHarness, type Harness } from './test-support.ts';

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

function publish(event: Record<string, unknown>, msgId = String(event['id']), tenant = String(event['tenant'])) {
  return publishEvent(h.js, eventsSubject(tenant, 'phone-1', 'message.received'), encodeJson(event), { msgId });
}

async function storedIds(tenant: string, ids: string[]): Promise<string[]> {
  const result = await forTenant(h.pool, tenant).query<{ id: string }>('SELECT id FROM :SCHEMA.events WHERE id = ANY($1) ORDER BY id', [ids]);
  return result.rows.map((r) => r.id);
}

/** The newest DLQ record on a tenant's DLQ subject, once it has `reason`. */
async function dlqRecord(tenant: string, reason: DlqRecord['reason']): Promise<DlqRecord> {
  return eventually(async () => {
    const stored = await h.jsm.streams.getMessage(STREAMS.dlq, { last_by_subj: dlqSubject(tenant) });
    const record = dlqRecordSchema.parse(stored.json());
    return record.reason === reason ? record : undefined;
  }, 20_000, `a ${reason} record on ${dlqSubject(tenant)}`);
}

async function persistedCount(tenant: string, duplicate: boolean): Promise<number> {
  const metric = await h.service.context.registry.getSingleMetric('events_persisted_total')?.get();
  return (metric?.values ?? [])
    .filter((v) => v.labels['tenant'] === tenant && v.labels['duplicate'] === String(duplicate))
    .reduce((sum, v) => sum + v.value, 0);
}

describe('persisting EVENTS', () => {
  it('stores a published event once, with every envelope field', async () => {
    const event = messageReceived(tenantA, { correlation_id: 'corr-1' });
    await publish(event);
    const row = await eventually(async () => {
      const result = await forTenant(h.pool, tenantA).query('SELECT * FROM :SCHEMA.events WHERE id = $1', [event['id']]);
      return result.rows[0];
    }, 20_000, 'the event row');
    expect(row).toMatchObject({
      id: event['id'],
      instance: 'phone-1',
      type: 'message.received',
      seq: String(event['seq']),
      source: 'baileys',
      correlation_id: 'corr-1',
      data: event['data'],
    });
    expect((row['occurred_at'] as Date).toISOString()).toBe(event['occurred_at']);
  });

  it('stores the same id once even when JetStream does not deduplicate it', async () => {
    const event = messageReceived(tenantA);
    const before = await persistedCount(tenantA, true);
    await publish(event, 'first-copy');
    await publish(event, 'second-copy');
    await eventually(async () => ((await persistedCount(tenantA, true)) > before ? true : undefined), 20_000, 'the duplicate to be seen');
    expect(await storedIds(tenantA, [String(event['id'])])).toEqual([event['id']]);
  });

  it("keeps each tenant's events in its own schema", async () => {
    const a = messageReceived(tenantA);
    const b = messageReceived(tenantB);
    await publish(a);
    await publish(b);
    const ids = [String(a['id']), String(b['id'])];
    await eventually(async () => ((await storedIds(tenantA, ids)).length > 0 ? true : undefined), 20_000, "A's event");
    await eventually(async () => ((await storedIds(tenantB, ids)).length > 0 ? true : undefined), 20_000, "B's event");
    expect(await storedIds(tenantA, ids)).toEqual([a['id']]);
    expect(await storedIds(tenantB, ids)).toEqual([b['id']]);
  });
});

describe('refusing what does not belong', () => {
  it('dead-letters an event that names another tenant than its subject', async () => {
    const foreign = messageReceived(tenantB);
    await publish(foreign, String(foreign['id']), tenantA);
    const record = await dlqRecord(tenantA, 'TENANT_MISMATCH');
    expect(Buffer.from(record.payload_base64, 'base64').equals(Buffer.from(encodeJson(foreign)))).toBe(true);
    expect(await storedIds(tenantA, [String(foreign['id'])])).toEqual([]);
    expect(await storedIds(tenantB, [String(foreign['id'])])).toEqual([]);
  });

  it('dead-letters bytes that are not an envelope, keeping them', async () => {
    const garbage = new TextEncoder().encode('{"id": "half an event"');
    await publishEvent(h.js, eventsSubject(tenantA, 'phone-1', 'message.received'), garbage, { msgId: 'garbage-1' });
    const record = await dlqRecord(tenantA, 'MALFORMED_JSON');
    expect(Buffer.from(record.payload_base64, 'base64').equals(Buffer.from(garbage))).toBe(true);
  });

  it('dead-letters an event whose data Postgres refuses (a NUL character) as SCHEMA_INVALID', async () => {
    const base = messageReceived(tenantA);
    const event: Record<string, unknown> = { ...base, data: { ...(base['data'] as object), text: 'nul \u0000 inside' } };
    await publish(event);
    const record = await dlqRecord(tenantA, 'SCHEMA_INVALID');
    expect(record.event_id).toBe(event['id']);
  });
});

describe('a tenant announced before its schema exists', () => {
  it('is retried until the schema is provisioned, then stored', async () => {
    const tenant = randomTenantId('late');
    try {
      await h.announce(tenant);
      const event = messageReceived(tenant);
      await publish(event);
      await new Promise((r) => setTimeout(r, 500));
      await provisionTenant(h.pool, tenant);
      await eventually(async () => ((await storedIds(tenant, [String(event['id'])])).length === 1 ? true : undefined), 20_000, 'the late event');
    } finally {
      await deleteTenant(h.pool, tenant);
      await forgetMediaPurges(h.pool, tenant);
    }
  });
});

describe('Postgres unreachable', () => {
  it('asks for a retry instead of dead-lettering', async () => {
    // A real pool pointed at a port nothing listens on: the connection error the handler sees in an outage.
    const unreachable = createPool({ url: 'postgres://postgres@127.0.0.1:1/switchyard', max: 1, applicationName: 'persistence-test' });
    try {
      const handler = persistEvent({ pool: unreachable, logger: testLogger('persistence'), metrics: persistenceMetrics(new Registry()) });
      const event = messageReceived(tenantA);
      const outcome = await handler({
        subject: eventsSubject(tenantA, 'phone-1', 'message.received'),
        data: encodeJson(event),
        headers: {},
        deliveryCount: 1,
        storedAtMs: Date.now(),
        streamSeq: 1,
        tenant: tenantA,
      });
      expect(outcome).toMatchObject({ kind: 'retry' });
    } finally {
      await unreachable.end();
    }
  });
});
