import { createApiKey } from '@switchyard/db';
import { publishEvent } from '@switchyard/nats';
import { eventsSubject } from '@switchyard/schema';
import { eventually } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeJson, messageReceived, startHarness, type Harness } from './test-support.ts';

let h: Harness;
let tenantA: string;
let tenantB: string;
const keys = { readA: '', readB: '', operator: '' };
let operatorKeyId = '';
const eventsOfA: Record<string, unknown>[] = [];

beforeAll(async () => {
  h = await startHarness();
  tenantA = await h.addTenant();
  tenantB = await h.addTenant();
  keys.readA = (await createApiKey(h.pool, { tenant: tenantA, role: 'read' })).key;
  keys.readB = (await createApiKey(h.pool, { tenant: tenantB, role: 'read' })).key;
  const operator = await createApiKey(h.pool, { tenant: null, role: 'operator' });
  keys.operator = operator.key;
  operatorKeyId = operator.id;
  for (const instance of ['phone-1', 'phone-1', 'phone-2']) {
    const event = messageReceived(tenantA, { instance });
    eventsOfA.push(event);
    await publishEvent(h.js, eventsSubject(tenantA, instance, 'message.received'), encodeJson(event), { msgId: String(event['id']) });
  }
  const last = eventsOfA.at(-1);
  await eventually(async () => ((await get(`/api/events/${String(last?.['id'])}`, keys.readA)).status === 200 ? true : undefined), 20_000, 'events stored');
});
afterAll(async () => {
  // Operator keys have no tenant, so tenant cleanup does not remove them.
  await h.pool.query('DELETE FROM switchyard.api_keys WHERE id = $1', [operatorKeyId]);
  await h.stop();
});

function get(path: string, key?: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${h.url}${path}`, { headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers } });
}

describe('GET /api/events/:id', () => {
  it("gives a read key its tenant's event", async () => {
    const event = eventsOfA[0]!;
    const res = await get(`/api/events/${String(event['id'])}`, keys.readA);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { success: boolean; data: Record<string, unknown> };
    expect(body.success).toBe(true);
    expect(body.data).toMatchObject({
      id: event['id'],
      tenant: tenantA,
      instance: 'phone-1',
      type: 'message.received',
      seq: event['seq'],
      occurred_at: event['occurred_at'],
      data: event['data'],
    });
  });

  it("answers 404 to another tenant's key, never confirming the id exists", async () => {
    // Exactly what an id that exists nowhere gets.
    for (const id of [String(eventsOfA[0]!['id']), 'never-stored']) {
      const res = await get(`/api/events/${id}`, keys.readB);
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ success: false, error: { code: 'NOT_FOUND', message: `no event ${id}` } });
    }
  });

  it('answers 401 without a key', async () => {
    const res = await get(`/api/events/${String(eventsOfA[0]!['id'])}`);
    expect(res.status).toBe(401);
  });

  it('lets an operator key act for the tenant it names', async () => {
    const id = String(eventsOfA[0]!['id']);
    expect((await get(`/api/events/${id}`, keys.operator, { 'x-switchyard-tenant': tenantA })).status).toBe(200);
    expect((await get(`/api/events/${id}`, keys.operator, { 'x-switchyard-tenant': tenantB })).status).toBe(404);
    expect((await get(`/api/events/${id}?tenant=${tenantA}`, keys.operator)).status).toBe(200);
    expect((await get(`/api/events/${id}`, keys.operator)).status).toBe(400);
    const unprovisioned = await get(`/api/events/${id}`, keys.operator, { 'x-switchyard-tenant': 'no-such-tenant' });
    expect(unprovisioned.status).toBe(404);
  });

  it('ignores a tenant named by a tenant key', async () => {
    const res = await get(`/api/events/${String(eventsOfA[0]!['id'])}?tenant=${tenantA}`, keys.readB, { 'x-switchyard-tenant': tenantA });
    expect(res.status).toBe(404);
  });
});

describe('GET /api/events', () => {
  it('lists newest first, filtered and limited', async () => {
    const all = (await (await get('/api/events', keys.readA)).json()) as { data: { events: { id: string }[]; limit: number } };
    expect(all.data.limit).toBe(100);
    expect(all.data.events.map((e) => e.id)).toEqual(eventsOfA.map((e) => e['id']).reverse());

    const phone1 = (await (await get('/api/events?instance=phone-1&type=message.received&limit=1', keys.readA)).json()) as {
      data: { events: { id: string }[]; limit: number; next_cursor: string | null };
    };
    // Cursor pagination (issue 5) adds next_cursor: phone-1 holds two events, so a page of one has a next page.
    const { next_cursor: nextCursor, ...firstPage } = phone1.data;
    expect(firstPage).toEqual({ events: [expect.objectContaining({ id: eventsOfA[1]!['id'] })], limit: 1 });
    expect(typeof nextCursor).toBe('string');

    const ofB = (await (await get('/api/events', keys.readB)).json()) as { data: { events: unknown[] } };
    expect(ofB.data.events).toEqual([]);
  });

  it('refuses a limit outside 1-1000 and an unknown type', async () => {
    for (const query of ['limit=0', 'limit=1001', 'limit=abc', 'type=message.teleported', 'instance=Bad!']) {
      const res = await get(`/api/events?${query}`, keys.readA);
      expect(res.status, query).toBe(400);
      expect(await res.json()).toMatchObject({ success: false, error: { code: 'VALIDATION_FAILED' } });
    }
  });

  it('is documented in OpenAPI', async () => {
    const doc = (await (await get('/docs/json')).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/events', '/api/events/{id}']));
  });
});
