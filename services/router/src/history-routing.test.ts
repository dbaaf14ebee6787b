import { describe, expect, it } from 'vitest';
import { durableName, ingestSubject, newEventId, STREAMS } from '@switchyard/schema';
import {
  decodeJson,
  readStream,
} from '@switchyard/testing';
import { routerWithTenant } from './test-support.ts';

const encoder = new TextEncoder();

function envelope(tenant: string, type: string, seq: number | undefined, data: unknown) {
  const now = new Date().toISOString();
  return {
    id: newEventId(),
    tenant,
    instance: 'phone-1',
    type,
    schema_version: 1,
    occurred_at: now,
    captured_at: now,
    ...(seq !== undefined ? { seq } : {}),
    source: 'tenant',
    data,
  };
}

function message(n: number) {
  return {
    message_id: `h${n}`,
    chat_jid: '1@s.whatsapp.net',
    from_me: false,
    timestamp: new Date().toISOString(),
    message_type: 'conversation',
    text: `old ${n}`,
  };
}

describe('router history routing', () => {
  const router = routerWithTenant();

  it('reads history batches on their own durable, beside the realtime one, and routes every batch', async () => {
    const { h, tenant } = router();
    const jsm = await h.nc.jetstreamManager();
    // Announcing a tenant starts its consumers asynchronously: wait until both durables exist.
    const durable = async (name: string) => {
      for (let i = 0; ; i++) {
        try {
          return await jsm.consumers.info(STREAMS.ingest, name);
        } catch (err) {
          if (i > 100) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    const realtime = await durable(durableName('router', tenant));
    const history = await durable(durableName('router-history', tenant));
    expect(
      [history.config.filter_subject, ...(history.config.filter_subjects ?? [])].filter(Boolean),
    ).toEqual([`v1.ingest.${tenant}.*.history.>`]);
    expect(realtime.config.filter_subjects).toContain(`v1.ingest.${tenant}.*.message.>`);
    expect(realtime.config.filter_subjects?.some((f) => f.includes('history'))).toBe(false);
    // Many in flight: order comes from one owning replica per tenant, not from one message at a time.
    expect(realtime.config.max_ack_pending).toBe(1024);

    const js = h.nc.jetstream();
    const parts = 200;
    const batches = Array.from({ length: parts }, (_, part) =>
      envelope(tenant, 'history.messages', undefined, {
        sync_type: 'full',
        is_latest: false,
        part,
        parts,
        messages: Array.from({ length: 50 }, (_, i) => message(part * 50 + i)),
      }),
    );
    await Promise.all(
      batches.map((b) =>
        js.publish(
          ingestSubject(tenant, 'phone-1', 'history.messages'),
          encoder.encode(JSON.stringify(b)),
          { msgID: b.id },
        ),
      ),
    );
    const live = envelope(tenant, 'message.received', 1, message(0));
    await js.publish(
      ingestSubject(tenant, 'phone-1', 'message.received'),
      encoder.encode(JSON.stringify(live)),
      { msgID: live.id },
    );

    const routedHistory = decodeJson<{ data: { part: number } }>(
      await readStream(h.nc, STREAMS.events, `v1.events.${tenant}.phone-1.history.>`, parts, 60_000),
    );
    expect(routedHistory.map((e) => e.data.part).sort((a, b) => a - b)).toEqual(
      batches.map((_, i) => i),
    );
    const routedLive = decodeJson<{ id: string }>(
      await readStream(h.nc, STREAMS.events, `v1.events.${tenant}.phone-1.message.>`, 1),
    );
    expect(routedLive.map((e) => e.id)).toEqual([live.id]);
  });
});
