import { createApiKey } from '@switchyard/db';
import { publishEvent } from '@switchyard/nats';
import { eventsSubject, STREAMS } from '@switchyard/schema';
import { decodeJson, eventually, readStream } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeJson, messageReceived, startHarness, type Harness } from './test-support.ts';

// Known data for tenant A, published through EVENTS like the router would: 12 events over two
// months, two instances, three types. Replays are asserted on EVENTS itself (what every EVENTS
// consumer, webhook-dispatch included, receives): services never import each other, so the
// cross-service path (replay → webhook receiver) belongs to the end-to-end suite in test/.
let h: Harness;
let tenantA: string;
let tenantB: string;
const keys = { readA: '', adminA: '', readB: '', adminB: '' };
interface Published {
  id: string;
  instance: string;
  type: string;
  occurred_at: string;
}
const published: Published[] = [];

beforeAll(async () => {
  h = await startHarness({ PERSISTENCE_REPLAY_INLINE_MAX: '3', PERSISTENCE_BATCH_WAIT: '5ms' });
  tenantA = await h.addTenant();
  tenantB = await h.addTenant();
  keys.readA = (await createApiKey(h.pool, { tenant: tenantA, role: 'read' })).key;
  keys.adminA = (await createApiKey(h.pool, { tenant: tenantA, role: 'admin' })).key;
  keys.readB = (await createApiKey(h.pool, { tenant: tenantB, role: 'read' })).key;
  keys.adminB = (await createApiKey(h.pool, { tenant: tenantB, role: 'admin' })).key;
  const types = ['message.received', 'message.sent', 'message.read'] as const;
  for (let i = 0; i < 12; i++) {
    const instance = i % 2 === 0 ? 'phone-1' : 'phone-2';
    const type = types[i % 3]!;
    const occurred = new Date(Date.UTC(2026, 0, 25 + i, 9, 0, 0)).toISOString();
    const base = messageReceived(tenantA, { instance, type, occurred_at: occurred, seq: i + 1 });
    const data = type === 'message.read' ? { message_id: `M-api-${i - 1}`, chat_jid: '5511999999999@s.whatsapp.net', timestamp: occurred } : { ...(base['data'] as object), message_id: `M-api-${i}`, from_me: type === 'message.sent' };
    const event: Record<string, unknown> = { ...base, data };
    published.push({ id: String(event['id']), instance, type, occurred_at: occurred });
    await publishEvent(h.js, eventsSubject(tenantA, instance, type), encodeJson(event), { msgId: String(event['id']) });
  }
  await eventually(async () => ((await list('?limit=1000', keys.readA)).data.events.length === 12 ? true : undefined), 20_000, 'all 12 events stored');
});
afterAll(async () => {
  await h.stop();
});

interface Page {
  events: { id: string; occurred_at: string; type: string; instance: string }[];
  limit: number;
  next_cursor: string | null;
}

function call(method: string, path: string, key?: string, body?: unknown, raw?: string): Promise<Response> {
  const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
  if (body !== undefined || raw !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${h.url}${path}`, { method, headers, ...(raw !== undefined ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {}) });
}

async function list(query: string, key: string): Promise<{ data: Page }> {
  const res = await call('GET', `/api/events${query}`, key);
  expect(res.status, query).toBe(200);
  return (await res.json()) as { data: Page };
}

const newestFirst = (events: Published[]) => [...events].sort((a, b) => b.occurred_at.localeCompare(a.occurred_at)).map((e) => e.id);

describe('GET /api/events filters', () => {
  it('filters by instance, exact type, type glob and list, and time range', async () => {
    expect((await list('?instance=phone-2', keys.readA)).data.events.map((e) => e.id)).toEqual(newestFirst(published.filter((e) => e.instance === 'phone-2')));
    expect((await list('?type=message.read', keys.readA)).data.events.map((e) => e.id)).toEqual(newestFirst(published.filter((e) => e.type === 'message.read')));
    expect((await list('?type=message.*', keys.readA)).data.events).toHaveLength(12);
    expect((await list('?type=message.sent,message.read&instance=phone-1', keys.readA)).data.events.map((e) => e.id)).toEqual(
      newestFirst(published.filter((e) => e.instance === 'phone-1' && e.type !== 'message.received')),
    );
    // Across the month boundary: Jan 30 .. Feb 2 inclusive.
    const range = await list('?since=2026-01-30T09:00:00Z&until=2026-02-02T09:00:00%2B00:00', keys.readA);
    expect(range.data.events.map((e) => e.id)).toEqual(
      newestFirst(published.filter((e) => e.occurred_at >= '2026-01-30T09:00:00.000Z' && e.occurred_at <= '2026-02-02T09:00:00.000Z')),
    );
    expect(range.data.events).toHaveLength(4);
  });

  it('pages with an opaque cursor until the last page, and with offset', async () => {
    const seen: string[] = [];
    let cursor: string | null = '';
    let pages = 0;
    while (cursor !== null) {
      const page: { data: Page } = await list(`?limit=5${cursor === '' ? '' : `&cursor=${cursor}`}`, keys.readA);
      seen.push(...page.data.events.map((e) => e.id));
      cursor = page.data.next_cursor;
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(newestFirst(published));
    const offset = await list('?limit=5&offset=10', keys.readA);
    expect(offset.data.events.map((e) => e.id)).toEqual(newestFirst(published).slice(10));
    expect(offset.data.next_cursor).toBeNull();
  });

  it('answers 400 with a specific code to bad input, never 500', async () => {
    const cases: [string, string][] = [
      ['since=yesterday', 'VALIDATION_FAILED'],
      ['until=2026-13-01T00:00:00Z', 'VALIDATION_FAILED'],
      ['since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z', 'INVALID_TIME_RANGE'],
      ['limit=0', 'VALIDATION_FAILED'],
      ['limit=1001', 'VALIDATION_FAILED'],
      ['type=nothing.*', 'VALIDATION_FAILED'],
      ['session_id=phone-1', 'VALIDATION_FAILED'],
      ['cursor=bm90LWEtY3Vyc29y', 'INVALID_CURSOR'],
      ['offset=-1', 'VALIDATION_FAILED'],
    ];
    for (const [query, code] of cases) {
      const res = await call('GET', `/api/events?${query}`, keys.readA);
      expect(res.status, query).toBe(400);
      expect(await res.json(), query).toMatchObject({ success: false, error: { code } });
    }
  });
});

describe('tenant isolation', () => {
  it("never shows tenant A's events to B's keys, not even by id", async () => {
    expect((await list('', keys.readB)).data.events).toEqual([]);
    for (const key of [keys.readB, keys.adminB]) {
      const res = await call('GET', `/api/events/${published[0]!.id}`, key);
      expect(res.status).toBe(404);
    }
    const replay = await call('POST', '/api/events/replay', keys.adminB, { instance: 'phone-1', dry_run: true });
    expect(((await replay.json()) as { data: { events_found: number } }).data.events_found).toBe(0);
  });
});

describe('POST /api/events/replay', () => {
  const replayedOnEvents = async (expected: number) =>
    decodeJson<{ id: string; source: string }>(await readStream(h.nc, STREAMS.events, `v1.events.${tenantA}.>`, 12 + expected)).filter((e) => e.source === 'replay');

  it('refuses a read key, no filter, unknown fields and malformed JSON', async () => {
    expect((await call('POST', '/api/events/replay', keys.readA, { instance: 'phone-1' })).status).toBe(403);
    const cases: [unknown, string | undefined, string][] = [
      [{ dry_run: true }, undefined, 'FILTER_REQUIRED'],
      [{ session_id: 'phone-1' }, undefined, 'VALIDATION_FAILED'],
      [{ since: 'not a date' }, undefined, 'VALIDATION_FAILED'],
      [undefined, '{"instance": "phone-1"', 'MALFORMED_JSON'],
    ];
    for (const [body, raw, code] of cases) {
      const res = await call('POST', '/api/events/replay', keys.adminA, body, raw);
      expect(res.status, code).toBe(400);
      expect(await res.json()).toMatchObject({ success: false, error: { code } });
    }
  });

  it('counts in a dry run and publishes nothing', async () => {
    const res = await call('POST', '/api/events/replay', keys.adminA, { instance: 'phone-1', type: 'message.received', dry_run: true });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: unknown }).data).toMatchObject({ dry_run: true, events_found: 2, events_replayed: 0, events_failed: 0 });
    expect(await replayedOnEvents(0)).toEqual([]);
  });

  it('refuses more matches than the safety limit', async () => {
    const res = await call('POST', '/api/events/replay', keys.adminA, { type: 'message.*', limit: 5 });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ error: { code: 'REPLAY_LIMIT_EXCEEDED' } });
  });

  it('re-publishes matching events to EVENTS with the same id and source replay', async () => {
    const res = await call('POST', '/api/events/replay', keys.adminA, { instance: 'phone-1', type: 'message.received' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: unknown }).data).toMatchObject({ status: 'succeeded', events_found: 2, events_replayed: 2, events_failed: 0 });
    const replayed = await replayedOnEvents(2);
    const expectedIds = published.filter((e) => e.instance === 'phone-1' && e.type === 'message.received').map((e) => e.id);
    expect(replayed.map((e) => e.id)).toEqual(expectedIds);
    // Persistence consumes its own replay and stores nothing twice.
    await new Promise((r) => setTimeout(r, 300));
    expect((await list('?limit=1000', keys.readA)).data.events).toHaveLength(12);
  });

  it('runs a larger replay as a job whose progress can be followed', async () => {
    const res = await call('POST', '/api/events/replay', keys.adminA, { instance: 'phone-2' });
    expect(res.status).toBe(202);
    const started = (await res.json()) as { data: { replay_id: string; status: string; events_found: number } };
    expect(started.data).toMatchObject({ status: 'running', events_found: 6 });
    const job = await eventually(async () => {
      const body = (await (await call('GET', `/api/replays/${started.data.replay_id}`, keys.adminA)).json()) as { data: { status: string } };
      return body.data.status === 'running' ? undefined : body.data;
    }, 20_000, 'the replay job to finish');
    expect(job).toMatchObject({ status: 'succeeded', events_found: 6, events_replayed: 6, events_failed: 0 });
    expect((await call('GET', `/api/replays/${started.data.replay_id}`, keys.adminB)).status).toBe(404);
  });
});

describe('state reads', () => {
  it('answers a message with its status history', async () => {
    // M-api-1 was sent by phone-2 (i=1) and read (i=2 names M-api-1) — on phone-1, so it is phone-1's receipt.
    const res = await call('GET', '/api/messages/M-api-1?instance=phone-2', keys.readA);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: Record<string, unknown> };
    expect(body.data).toMatchObject({ message_id: 'M-api-1', instance: 'phone-2', status: 'sent', from_me: true });
    const read = (await (await call('GET', '/api/messages/M-api-1?instance=phone-1', keys.readA)).json()) as { data: { status: string; history: { status: string }[] } };
    expect(read.data.status).toBe('read');
    expect(read.data.history.map((x) => x.status)).toEqual(['read']);
    expect((await call('GET', '/api/messages/M-api-1', keys.readB)).status).toBe(404);
    const messages = (await (await call('GET', '/api/messages?instance=phone-2&limit=2', keys.readA)).json()) as { data: { messages: unknown[] } };
    expect(messages.data.messages).toHaveLength(2);
    expect((await call('GET', '/api/chats', keys.readA)).status).toBe(200);
    expect((await call('GET', '/api/contacts?jid=x', keys.readA)).status).toBe(400);
  });
});
