import { describe, expect, it } from 'vitest';
import { AckPolicy, DeliverPolicy } from 'nats';
import { dlqRecordSchema, ingestSubject, STREAMS } from '@switchyard/schema';
import {
  decodeJson,
  readStream,
  messageReceivedEvent,
} from '@switchyard/testing';
import { routerWithTenant } from './test-support.ts';

const encoder = new TextEncoder();


describe('router', () => {
  const router = routerWithTenant({ ROUTER_MAX_PAYLOAD_BYTES: '4096' });

  it('routes valid events to EVENTS in order and dead-letters bad input with a reason and the raw bytes', async () => {
    const { h, tenant } = router();
    const js = h.nc.jetstream();
    const subject = ingestSubject(tenant, 'phone-1', 'message.received');
    const bad = [
      { bytes: encoder.encode('{"not json'), reason: 'MALFORMED_JSON' },
      { bytes: encoder.encode(JSON.stringify(messageReceivedEvent(tenant, 'phone-1', 99, { type: 'message.exploded' }))), reason: 'UNKNOWN_TYPE' },
      { bytes: encoder.encode(JSON.stringify(messageReceivedEvent(tenant, 'phone-1', 98, { data: {} }))), reason: 'SCHEMA_INVALID' },
      { bytes: encoder.encode(JSON.stringify(messageReceivedEvent('someone-else', 'phone-1', 97))), reason: 'TENANT_MISMATCH' },
      { bytes: encoder.encode(JSON.stringify(messageReceivedEvent(tenant, 'phone-1', 96, { data: { text: 'x'.repeat(5000) } }))), reason: 'PAYLOAD_TOO_LARGE' },
    ];
    const good = Array.from({ length: 20 }, (_, i) => messageReceivedEvent(tenant, 'phone-1', i + 1));
    // Interleave the bad messages with the good ones: the good ones must still flow, in order.
    for (let i = 0; i < good.length; i++) {
      await js.publish(subject, encoder.encode(JSON.stringify(good[i])), { msgID: good[i]!.id });
      const poison = bad[i];
      if (poison) await js.publish(subject, poison.bytes);
    }

    const routed = decodeJson<{ seq: number }>(await readStream(h.nc, STREAMS.events, `v1.events.${tenant}.>`, good.length));
    expect(routed.map((e) => e.seq)).toEqual(good.map((g) => g.seq));

    const dlq = decodeJson(await readStream(h.nc, STREAMS.dlq, `v1.dlq.${tenant}`, bad.length)).map((r) => dlqRecordSchema.parse(r));
    expect(dlq.map((r) => r.reason).sort()).toEqual(bad.map((b) => b.reason).sort());
    for (const record of dlq) {
      const original = bad.find((b) => b.reason === record.reason)!;
      expect(Buffer.from(record.payload_base64, 'base64').equals(Buffer.from(original.bytes))).toBe(true);
      expect(record.source_subject).toBe(subject);
      expect(record.retryable).toBe(false);
      expect(record.deliveries).toBe(1);
    }
  });

  it('publishes an event id once to EVENTS even when INGEST carries it twice', async () => {
    const { h, tenant } = router();
    const js = h.nc.jetstream();
    const once = messageReceivedEvent(tenant, 'phone-2', 1);
    const subject = ingestSubject(tenant, 'phone-2', 'message.received');
    // Two publishes with distinct Nats-Msg-Ids so INGEST keeps both; EVENTS must dedupe by event id.
    await js.publish(subject, encoder.encode(JSON.stringify(once)), { msgID: `a-${once.id}` });
    await js.publish(subject, encoder.encode(JSON.stringify(once)), { msgID: `b-${once.id}` });
    const marker = messageReceivedEvent(tenant, 'phone-2', 2);
    await js.publish(subject, encoder.encode(JSON.stringify(marker)), { msgID: marker.id });
    const routed = decodeJson<{ id: string }>(await readStream(h.nc, STREAMS.events, `v1.events.${tenant}.phone-2.>`, 2));
    expect(routed.map((e) => e.id)).toEqual([once.id, marker.id]);
  });
});

describe('router realtime retries', () => {
  const router = routerWithTenant({ ROUTER_MAX_DELIVER: '2' });

  it('holds an instance while one of its events is retried, lets other instances flow, and dead-letters the one EVENTS keeps refusing', async () => {
    const { h, tenant } = router();
    // EVENTS refuses one event (too large for it), every time: a publish failure the router retries.
    const info = await h.jsm.streams.info(STREAMS.events);
    await h.jsm.streams.update(STREAMS.events, { ...info.config, max_msg_size: 2048 });
    const js = h.js;
    const publish = async (instance: string, seq: number, text = `hello ${seq}`) => {
      const e = messageReceivedEvent(tenant, instance, seq, {});
      const withText = { ...e, data: { ...e.data, text } };
      await js.publish(ingestSubject(tenant, instance, 'message.received'), encoder.encode(JSON.stringify(withText)), { msgID: withText.id });
      return withText;
    };
    await publish('phone-1', 1);
    await publish('phone-1', 2);
    const refused = await publish('phone-1', 3, 'x'.repeat(3000));
    for (let seq = 1; seq <= 3; seq++) await publish('phone-2', seq);
    // Published while seq 3 is being retried: must wait for it, not overtake it.
    await new Promise((r) => setTimeout(r, 300));
    await publish('phone-1', 4);
    await publish('phone-1', 5);
    for (let seq = 4; seq <= 5; seq++) await publish('phone-2', seq);

    const other = decodeJson<{ seq: number }>(await readStream(h.nc, STREAMS.events, `v1.events.${tenant}.phone-2.>`, 5));
    expect(other.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    const held = decodeJson<{ seq: number }>(await readStream(h.nc, STREAMS.events, `v1.events.${tenant}.phone-1.>`, 4, 30_000));
    expect(held.map((e) => e.seq)).toEqual([1, 2, 4, 5]);

    const dlq = decodeJson(await readStream(h.nc, STREAMS.dlq, `v1.dlq.${tenant}`, 1)).map((r) => dlqRecordSchema.parse(r));
    expect(dlq.map((r) => [r.reason, r.event_id, r.deliveries])).toEqual([['MAX_DELIVERIES', refused.id, 2]]);
    // seq 4 was published 300 ms after seq 3 failed, yet stored only after seq 3's redelivery
    // (the first retry waits 1 s): it waited for seq 3 rather than overtaking it.
    // EVENTS is shared with the other test files running now: read only this tenant's phone-1.
    const storedAt = new Map<number, number>();
    const name = `stored-at-${tenant}`;
    await h.jsm.consumers.add(STREAMS.events, { name, filter_subject: `v1.events.${tenant}.phone-1.>`, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All });
    const reader = await h.js.consumers.get(STREAMS.events, name);
    for await (const m of await reader.fetch({ max_messages: 4, expires: 2_000 })) {
      const e = JSON.parse(new TextDecoder().decode(m.data)) as { seq: number };
      storedAt.set(e.seq, Math.floor(m.info.timestampNanos / 1e6));
    }
    await h.jsm.consumers.delete(STREAMS.events, name);
    expect([...storedAt.keys()]).toEqual([1, 2, 4, 5]);
    expect(storedAt.get(4)! - storedAt.get(2)!).toBeGreaterThanOrEqual(900);
  });
});

describe('router after a run of failed publishes', () => {
  const router = routerWithTenant();

  it('routes an instance’s retried events together once they come back, not one more per retry round', async () => {
    const { h, tenant } = router();
    // EVENTS refuses everything for a moment (as during an outage): every event of the run fails
    // or waits behind the first, and all of them come back together on the first retry.
    const info = await h.jsm.streams.info(STREAMS.events);
    await h.jsm.streams.update(STREAMS.events, { ...info.config, max_msg_size: 64 });
    const events = Array.from({ length: 30 }, (_, i) => messageReceivedEvent(tenant, 'phone-1', i + 1));
    for (const e of events) await h.js.publish(ingestSubject(tenant, 'phone-1', 'message.received'), encoder.encode(JSON.stringify(e)), { msgID: e.id });
    await new Promise((r) => setTimeout(r, 400));
    await h.jsm.streams.update(STREAMS.events, { ...info.config, max_msg_size: info.config.max_msg_size });
    const started = Date.now();
    // The first retry comes after 1 s, the second after 5 s more: 30 events in 4 s means one
    // round. (Before, each round let two more through: 30 events took minutes, and the last
    // ones reached ROUTER_MAX_DELIVER and were dead-lettered.)
    const routed = decodeJson<{ seq: number }>(await readStream(h.nc, STREAMS.events, `v1.events.${tenant}.phone-1.>`, events.length, 4_000));
    expect(routed.map((e) => e.seq)).toEqual(events.map((e) => e.seq));
    expect(Date.now() - started).toBeLessThan(4_500);
    const { state } = await h.jsm.streams.info(STREAMS.dlq);
    expect(state.messages).toBe(0);
  });
});
