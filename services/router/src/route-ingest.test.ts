import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dlqRecordSchema, ingestSubject, STREAMS } from '@switchyard/schema';
import type { RunningService } from '@switchyard/service';
import {
  decodeJson,
  randomTenantId,
  readStream,
  messageReceivedEvent,
  startServiceHarness,
  type ServiceHarness,
} from '@switchyard/testing';
import { startRouter } from './app.ts';
import { loadRouterConfig } from './config.ts';

const encoder = new TextEncoder();

const event = messageReceivedEvent;

describe('router', () => {
  let h: ServiceHarness<RunningService>;
  const tenant = randomTenantId();

  beforeAll(async () => {
    h = await startServiceHarness({
      service: 'router',
      env: { ROUTER_MAX_PAYLOAD_BYTES: '4096' },
      start: (env, options) => startRouter(loadRouterConfig(env), options),
    });
    await h.announce(tenant);
  });

  afterAll(async () => {
    await h?.stop();
  });

  it('routes valid events to EVENTS in order and dead-letters bad input with a reason and the raw bytes', async () => {
    const js = h.nc.jetstream();
    const subject = ingestSubject(tenant, 'phone-1', 'message.received');
    const bad = [
      { bytes: encoder.encode('{"not json'), reason: 'MALFORMED_JSON' },
      { bytes: encoder.encode(JSON.stringify(event(tenant, 'phone-1', 99, { type: 'message.exploded' }))), reason: 'UNKNOWN_TYPE' },
      { bytes: encoder.encode(JSON.stringify(event(tenant, 'phone-1', 98, { data: {} }))), reason: 'SCHEMA_INVALID' },
      { bytes: encoder.encode(JSON.stringify(event('someone-else', 'phone-1', 97))), reason: 'TENANT_MISMATCH' },
      { bytes: encoder.encode(JSON.stringify(event(tenant, 'phone-1', 96, { data: { text: 'x'.repeat(5000) } }))), reason: 'PAYLOAD_TOO_LARGE' },
    ];
    const good = Array.from({ length: 20 }, (_, i) => event(tenant, 'phone-1', i + 1));
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
    const js = h.nc.jetstream();
    const once = event(tenant, 'phone-2', 1);
    const subject = ingestSubject(tenant, 'phone-2', 'message.received');
    // Two publishes with distinct Nats-Msg-Ids so INGEST keeps both; EVENTS must dedupe by event id.
    await js.publish(subject, encoder.encode(JSON.stringify(once)), { msgID: `a-${once.id}` });
    await js.publish(subject, encoder.encode(JSON.stringify(once)), { msgID: `b-${once.id}` });
    const marker = event(tenant, 'phone-2', 2);
    await js.publish(subject, encoder.encode(JSON.stringify(marker)), { msgID: marker.id });
    const routed = decodeJson<{ id: string }>(await readStream(h.nc, STREAMS.events, `v1.events.${tenant}.phone-2.>`, 2));
    expect(routed.map((e) => e.id)).toEqual([once.id, marker.id]);
  });
});
