import { describe, expect, it } from 'vitest';
import {
  dlqRecordSchema,
  ingestSubject,
  STREAMS,
  SYSTEM_TENANT,
} from '@switchyard/schema';
import {
  decodeJson,
  readStream,
  messageReceivedEvent,
} from '@switchyard/testing';
import { routerWithTenant } from './test-support.ts';

const encoder = new TextEncoder();


describe('router catch-all for subjects no tenant durable reads', () => {
  const router = routerWithTenant();

  it('dead-letters invalid tenant subjects to _system with INVALID_SUBJECT, and leaves valid tenants to their durable', async () => {
    const { h, tenant } = router();
    const js = h.nc.jetstream();
    const bad = [
      'v1.ingest.Not-A-Tenant.phone-1.message.received',
      'v1.ingest._sneaky.phone-1.message.received',
      `v1.ingest.${'x'.repeat(70)}.phone-1.message.received`,
    ];
    const good = Array.from({ length: 10 }, (_, i) => messageReceivedEvent(tenant, 'phone-1', i + 1));
    for (const [i, e] of good.entries()) {
      await js.publish(
        ingestSubject(tenant, 'phone-1', 'message.received'),
        encoder.encode(JSON.stringify(e)),
        { msgID: e.id },
      );
      const subject = bad[i];
      if (subject !== undefined) await js.publish(subject, encoder.encode(`{"raw":${i}}`));
    }

    const routed = decodeJson<{ seq: number }>(
      await readStream(h.nc, STREAMS.events, `v1.events.${tenant}.>`, good.length),
    );
    expect(routed.map((e) => e.seq)).toEqual(good.map((e) => e.seq));

    const records = decodeJson(
      await readStream(h.nc, STREAMS.dlq, `v1.dlq.${SYSTEM_TENANT}`, bad.length),
    ).map((r) => dlqRecordSchema.parse(r));
    expect(records.map((r) => r.source_subject).sort()).toEqual([...bad].sort());
    for (const record of records) {
      expect(record.reason).toBe('INVALID_SUBJECT');
      expect(record.retryable).toBe(false);
      expect(record.tenant).toBe(SYSTEM_TENANT);
      const i = bad.indexOf(record.source_subject);
      expect(Buffer.from(record.payload_base64, 'base64').toString()).toBe(`{"raw":${i}}`);
    }
    // Nothing of the valid tenant went to _system, and nothing of it was dead-lettered at all.
    const jsm = await h.nc.jetstreamManager();
    const dlq = await jsm.streams.info(STREAMS.dlq, { subjects_filter: 'v1.dlq.>' });
    expect(dlq.state.subjects).toEqual({ [`v1.dlq.${SYSTEM_TENANT}`]: bad.length });

    // A valid tenant's subject that neither of its durables reads goes to the tenant's own DLQ.
    await js.publish(`v1.ingest.${tenant}.phone-1.weird.thing`, encoder.encode('{"weird":1}'));
    await js.publish(`v1.ingest.${tenant}.phone-1`, encoder.encode('{"short":1}'));
    const own = decodeJson(await readStream(h.nc, STREAMS.dlq, `v1.dlq.${tenant}`, 2)).map((r) =>
      dlqRecordSchema.parse(r),
    );
    expect(Object.fromEntries(own.map((r) => [r.source_subject, r.reason]))).toEqual({
      [`v1.ingest.${tenant}.phone-1.weird.thing`]: 'UNKNOWN_TYPE',
      [`v1.ingest.${tenant}.phone-1`]: 'INVALID_SUBJECT',
    });

    const rejected = await h.service.context.registry
      .getSingleMetric('router_events_rejected_total')
      ?.get();
    const invalid = rejected?.values.find(
      (v) => v.labels['tenant'] === SYSTEM_TENANT && v.labels['reason'] === 'INVALID_SUBJECT',
    );
    expect(invalid?.value).toBe(bad.length);
  });
});
