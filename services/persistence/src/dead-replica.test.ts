import { forTenant } from '@switchyard/db';
import { ensureDurableConsumer, publishEvent } from '@switchyard/nats';
import { durableName, eventsSubject, STREAMS, tenantFilterSubject } from '@switchyard/schema';
import { createTestTenant, eventually, type TestTenant } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeJson, messageReceived, startHarness, type Harness } from './test-support.ts';

let h: Harness;
let provisioned: TestTenant | undefined;

beforeAll(async () => {
  h = await startHarness({ PERSISTENCE_ACK_WAIT: '2s' });
});
afterAll(async () => {
  // Before the harness ends its pool; the tenant's events are all stored by then.
  await provisioned?.cleanup();
  await h.stop();
});

describe('a persistence replica that dies holding events', () => {
  it('leaves them to the others after PERSISTENCE_ACK_WAIT, each stored once', async () => {
    provisioned = await createTestTenant(h.pool, 'p');
    const { tenant } = provisioned;
    const durable = durableName('persistence', tenant);
    // The dead replica: it had the tenant's durable (as persistence creates it), took five
    // messages and died before storing or answering them.
    await ensureDurableConsumer(h.jsm, { stream: STREAMS.events, durable, filterSubject: tenantFilterSubject('events', tenant), ackWaitMs: 2_000 });
    const events = Array.from({ length: 20 }, () => messageReceived(tenant));
    for (const event of events) {
      await publishEvent(h.js, eventsSubject(tenant, 'phone-1', 'message.received'), encodeJson(event), { msgId: String(event['id']) });
    }
    const held: string[] = [];
    for await (const msg of await (await h.js.consumers.get(STREAMS.events, durable)).fetch({ max_messages: 5, expires: 2_000 })) {
      held.push(msg.json<{ id: string }>().id);
    }
    expect(held).toEqual(events.slice(0, 5).map((e) => String(e['id'])));

    // The surviving replica (the harness's persistence) gets the tenant now.
    const announcedAt = Date.now();
    await h.announce(tenant);
    const ids = events.map((e) => String(e['id']));
    const storedAt = new Map<string, number>();
    await eventually(async () => {
      const rows = await forTenant(h.pool, tenant).query<{ id: string }>('SELECT id FROM :SCHEMA.events WHERE id = ANY($1)', [ids]);
      for (const { id } of rows.rows) if (!storedAt.has(id)) storedAt.set(id, Date.now());
      return rows.rows.length === ids.length ? true : undefined;
    }, 15_000, 'every event stored');
    const info = await h.jsm.consumers.info(STREAMS.events, durable);
    expect(info.config.ack_wait).toBe(2_000_000_000);
    // The others at once; the dead replica's five once their 2 s ack wait ran out (not the 30 s
    // the durables used to get), each stored once.
    const lastHeld = Math.max(...held.map((id) => storedAt.get(id)!));
    expect(lastHeld - announcedAt).toBeLessThan(8_000);
    expect(storedAt.size).toBe(ids.length);
    const counted = await forTenant(h.pool, tenant).query<{ n: string }>('SELECT count(*) AS n FROM :SCHEMA.events');
    expect(Number(counted.rows[0]!.n)).toBe(ids.length);
  });
});
