import { createApiKey, getExhausted, recordExhausted } from '@switchyard/db';
import { ensureStream, publishToDlq, webhooksStreamConfig } from '@switchyard/nats';
import { SYSTEM_TENANT, webhookDeliverySubject, webhookDurableName } from '@switchyard/schema';
import { eventually, randomTenantId } from '@switchyard/testing';
import type { Msg } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryPayload, dlqRecord, encodeText, startHarness, type Harness } from './test-support.ts';

let h: Harness;
let tenantA: string;
let tenantB: string;
const keys = { adminA: '', adminB: '', readA: '', operator: '' };
let operatorKeyId = '';
const systemClaim = randomTenantId('sysr');

beforeAll(async () => {
  h = await startHarness();
  tenantA = await h.addTenant();
  tenantB = await h.addTenant();
  keys.adminA = (await createApiKey(h.pool, { tenant: tenantA, role: 'admin' })).key;
  keys.adminB = (await createApiKey(h.pool, { tenant: tenantB, role: 'admin' })).key;
  keys.readA = (await createApiKey(h.pool, { tenant: tenantA, role: 'read' })).key;
  const operator = await createApiKey(h.pool, { tenant: null, role: 'operator' });
  keys.operator = operator.key;
  operatorKeyId = operator.id;
});
afterAll(async () => {
  await h.pool.query('DELETE FROM switchyard.api_keys WHERE id = $1', [operatorKeyId]);
  await h.pool.query('DELETE FROM switchyard.exhausted_events WHERE claimed_tenant = $1', [systemClaim]);
  await h.stop();
});

function call(method: 'GET' | 'POST', path: string, key?: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${h.url}${path}`, { method, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers } });
}

async function json<T = { success: boolean; data: Record<string, unknown>; error?: { code: string } }>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** Seeds an open row in the tenant's table directly; returns its id. */
async function seed(tenant: string, payload: Uint8Array, overrides: Parameters<typeof dlqRecord>[2] = {}): Promise<string> {
  const record = dlqRecord(tenant, payload, overrides);
  await recordExhausted(h.pool, tenant, record);
  const res = await json<{ data: { exhausted: { id: string; source_seq: number }[] } }>(
    await call('GET', '/api/exhausted?limit=1000', keys.operator, { 'x-switchyard-tenant': tenant }),
  );
  const row = res.data.exhausted.find((r) => r.source_seq === record.source_seq);
  if (!row) throw new Error('seeded row not listed');
  return row.id;
}

describe('requeue', () => {
  it('republishes the exact payload to the source subject and marks the row, once', async () => {
    const payload = binaryPayload();
    const record = dlqRecord(tenantA, payload);
    await publishToDlq(h.js, record);
    const listed = await eventually(async () => {
      const body = await json<{ data: { exhausted: { id: string; source_seq: number; status: string }[] } }>(
        await call('GET', '/api/exhausted?status=open', keys.adminA),
      );
      return body.data.exhausted.find((r) => r.source_seq === record.source_seq);
    }, 20_000, 'the exhausted row in the API');

    const received = new Promise<Msg>((resolve) => {
      h.nc.subscribe(record.source_subject, { max: 1, callback: (_err, msg) => resolve(msg) });
    });
    await h.nc.flush();
    const res = await call('POST', `/api/exhausted/${listed.id}/requeue`, keys.adminA);
    expect(res.status).toBe(200);
    const body = await json<{ data: { status: string; subject: string; msg_id: string; stream: string } }>(res);
    expect(body.data).toMatchObject({ status: 'requeued', subject: record.source_subject, stream: 'EVENTS' });
    expect(body.data.msg_id).toMatch(new RegExp(`^requeue:EVENTS:${record.source_seq}:${record.consumer}:\\d+$`));

    const msg = await received;
    expect(Buffer.from(msg.data).equals(Buffer.from(payload))).toBe(true);
    expect(msg.headers?.get('Nats-Msg-Id')).toBe(body.data.msg_id);
    expect(msg.headers?.get('Content-Type')).toBe('application/json');

    const row = await getExhausted(h.pool, tenantA, listed.id);
    expect(row?.status).toBe('requeued');
    expect(row?.requeuedAt).toBeInstanceOf(Date);

    const again = await call('POST', `/api/exhausted/${listed.id}/requeue`, keys.adminA);
    expect(again.status).toBe(409);
    expect((await json(again)).error?.code).toBe('CONFLICT');
    expect((await call('POST', `/api/exhausted/${listed.id}/discard`, keys.adminA)).status).toBe(409);
  });

  it('requeues an exhausted webhook delivery to its endpoint subject, and only its own tenant\'s', async () => {
    await ensureStream(h.jsm, webhooksStreamConfig());
    const subject = webhookDeliverySubject(tenantA, 'ep_0123abcd', 'phone-1');
    const id = await seed(tenantA, encodeText('{"id":"evt-w1"}'), {
      service: 'webhook-dispatch',
      sourceStream: 'WEBHOOKS',
      sourceSubject: subject,
      consumer: webhookDurableName(tenantA, 'ep_0123abcd'),
      reason: 'DELIVERY_FAILED',
    });
    const res = await call('POST', `/api/exhausted/${id}/requeue`, keys.adminA);
    expect(res.status).toBe(200);
    expect((await json(res)).data).toMatchObject({ status: 'requeued', subject, stream: 'WEBHOOKS' });

    const foreign = await seed(tenantA, encodeText('{}'), { sourceSubject: webhookDeliverySubject(tenantB, 'ep_0123abcd', 'phone-1') });
    expect((await call('POST', `/api/exhausted/${foreign}/requeue`, keys.adminA)).status).toBe(422);
  });

  it("refuses to send a tenant's row to another tenant's subject", async () => {
    const id = await seed(tenantA, encodeText('{}'), { sourceSubject: `v1.events.${tenantB}.phone-1.message.received` });
    const res = await call('POST', `/api/exhausted/${id}/requeue`, keys.adminA);
    expect(res.status).toBe(422);
    expect((await getExhausted(h.pool, tenantA, id))?.status).toBe('open');
  });
});

describe('discard', () => {
  it('closes an open row', async () => {
    const id = await seed(tenantA, encodeText('{"x":1}'));
    const res = await call('POST', `/api/exhausted/${id}/discard`, keys.adminA);
    expect(res.status).toBe(200);
    expect((await json(res)).data).toEqual({ id, status: 'discarded' });
    expect((await getExhausted(h.pool, tenantA, id))?.status).toBe('discarded');
  });
});

describe('reading', () => {
  it('shows a row with its payload as base64 and, when UTF-8, as text', async () => {
    const id = await seed(tenantA, encodeText('{"hello":"wörld"}'));
    const detail = (await json(await call('GET', `/api/exhausted/${id}`, keys.adminA))).data;
    expect(detail).toMatchObject({ id, payload_text: '{"hello":"wörld"}', status: 'open', reason: 'MAX_DELIVERIES' });
    expect(Buffer.from(String(detail['payload_base64']), 'base64').toString('utf8')).toBe('{"hello":"wörld"}');
    expect(detail['attempts']).toHaveLength(2);

    const binary = binaryPayload();
    const binId = await seed(tenantA, binary);
    const binDetail = (await json(await call('GET', `/api/exhausted/${binId}`, keys.adminA))).data;
    expect(binDetail['payload_text']).toBeNull();
    expect(Buffer.from(String(binDetail['payload_base64']), 'base64').equals(Buffer.from(binary))).toBe(true);
  });

  it('filters the list by status and reason', async () => {
    await seed(tenantA, encodeText('{}'), { reason: 'SCHEMA_INVALID', retryable: false });
    const body = await json<{ data: { exhausted: { reason: string; status: string }[]; limit: number } }>(
      await call('GET', '/api/exhausted?reason=SCHEMA_INVALID&status=open&limit=5', keys.adminA),
    );
    expect(body.data.limit).toBe(5);
    expect(body.data.exhausted.length).toBeGreaterThan(0);
    expect(body.data.exhausted.every((r) => r.reason === 'SCHEMA_INVALID' && r.status === 'open')).toBe(true);
    expect((await call('GET', '/api/exhausted?reason=NOPE', keys.adminA)).status).toBe(400);
    expect((await call('GET', '/api/exhausted?limit=1001', keys.adminA)).status).toBe(400);
  });
});

describe('access', () => {
  it("hides tenant A's rows from tenant B's admin key", async () => {
    const id = await seed(tenantA, encodeText('{"secret":true}'));
    const res = await call('GET', `/api/exhausted/${id}`, keys.adminB);
    expect(res.status).toBe(404);
    expect((await json(res)).error?.code).toBe('NOT_FOUND');
    expect((await call('POST', `/api/exhausted/${id}/requeue`, keys.adminB)).status).toBe(404);
    expect((await call('POST', `/api/exhausted/${id}/discard`, keys.adminB)).status).toBe(404);
    const list = await json<{ data: { exhausted: unknown[] } }>(await call('GET', '/api/exhausted', keys.adminB));
    expect(list.data.exhausted).toEqual([]);
    // Naming A does not help a tenant key: it always acts for its own tenant.
    expect((await call('GET', `/api/exhausted/${id}`, keys.adminB, { 'x-switchyard-tenant': tenantA })).status).toBe(404);
    expect((await getExhausted(h.pool, tenantA, id))?.status).toBe('open');
  });

  it('needs an admin or operator key', async () => {
    expect((await call('GET', '/api/exhausted')).status).toBe(401);
    expect((await call('GET', '/api/exhausted', keys.readA)).status).toBe(403);
    expect((await call('GET', '/api/exhausted', keys.operator, { 'x-switchyard-tenant': tenantA })).status).toBe(200);
    expect((await call('GET', '/api/exhausted', keys.operator)).status).toBe(400);
  });

  it('lets only an operator see the system rows', async () => {
    const record = dlqRecord(systemClaim, encodeText('orphan'));
    await recordExhausted(h.pool, SYSTEM_TENANT, record);
    const list = await json<{ data: { exhausted: { id: string; claimed_tenant: string | null }[] } }>(
      await call('GET', '/api/exhausted?limit=1000', keys.operator, { 'x-switchyard-tenant': SYSTEM_TENANT }),
    );
    const row = list.data.exhausted.find((r) => r.claimed_tenant === systemClaim);
    expect(row).toBeDefined();
    const asTenant = await json<{ data: { exhausted: { claimed_tenant: string | null }[] } }>(
      await call('GET', `/api/exhausted?tenant=${SYSTEM_TENANT}`, keys.adminA),
    );
    expect(asTenant.data.exhausted.every((r) => r.claimed_tenant === null)).toBe(true);
  });
});
