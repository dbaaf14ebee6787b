import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addEndpoint } from '@switchyard/db';
import { publishEvent } from '@switchyard/nats';
import { eventsSubject, newEventId } from '@switchyard/schema';
import type { RunningService } from '@switchyard/service';
import { eventually, startHttpReceiver, startServiceHarness, testLogger, testServiceEnv, type HttpReceiver, type ServiceHarness } from '@switchyard/testing';
import { startWebhookDispatch } from './app.ts';
import { loadWebhookDispatchConfig } from './config.ts';

const ENV = {
  WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
  WEBHOOK_ENDPOINT_CACHE_TTL: '200ms',
  // Ownership moves within a test's patience: short leases, short ack wait behind the fence.
  WEBHOOK_LEASE_TTL: '2s',
  WEBHOOK_ACK_WAIT: '2s',
  WEBHOOK_PARTITIONS: '8',
};
const INSTANCES = ['phone-1', 'phone-2', 'phone-3'];

describe('webhook-dispatch with two replicas', () => {
  let h: ServiceHarness<RunningService>;
  let second: RunningService | undefined;
  let hook: HttpReceiver;

  beforeAll(async () => {
    h = await startServiceHarness({
      service: 'webhook-dispatch',
      env: ENV,
      start: (env, options) => startWebhookDispatch(loadWebhookDispatchConfig(env), options),
    });
    hook = await startHttpReceiver();
  });

  afterAll(async () => {
    await second?.stop();
    await h?.stop();
    await hook?.close();
  });

  it('keeps every instance in order at the endpoint while the owning replica hands over mid-stream, losing nothing', async () => {
    // A little latency per request, so many deliveries are in flight when the replica leaves.
    hook.respondWith(() => ({ status: 200, delayMs: Math.floor(Math.random() * 5) }));
    const tenant = await h.addTenant();
    await addEndpoint(h.pool, tenant, { url: `${hook.url}/hook` });
    const seqs = new Map<string, number>();
    const publish = async (count: number): Promise<void> => {
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < count; i++) {
        const instance = INSTANCES[i % INSTANCES.length] ?? 'phone-1';
        const seq = (seqs.get(instance) ?? 0) + 1;
        seqs.set(instance, seq);
        const id = newEventId();
        const body = JSON.stringify({ id, tenant, instance, type: 'session.connected', schema_version: 1, occurred_at: '2026-11-23T10:00:00.000Z', captured_at: '2026-11-23T10:00:00.100Z', seq, source: 'baileys', data: { jid: '5511999999999@s.whatsapp.net', lid: '123456789@lid' } });
        // Not awaited one by one (sent in order on one connection): EVENTS gets them as a burst.
        pending.push(publishEvent(h.js, eventsSubject(tenant, instance, 'session.connected'), new TextEncoder().encode(body), { msgId: id }));
      }
      await Promise.all(pending);
    };

    // The first replica owns every partition while it is alone.
    await publish(300);
    await hook.waitFor(30, (req) => req.path === '/hook');
    second = await startWebhookDispatch(loadWebhookDispatchConfig(testServiceEnv(`nats://${h.nc.getServer()}`, ENV)), {
      logger: testLogger('webhook-dispatch-2'),
      tenantBucket: h.bucket,
    });
    // It leaves (drained) with deliveries and events in flight: the second takes the tenant over.
    await h.service.stop();
    await publish(300);
    // Handed-back deliveries may arrive twice (at least once); wait for every event once.
    const unique = (): number => new Set(hook.requests.map((req) => String(req.headers['webhook-id']))).size;
    await eventually(async () => (unique() >= 600 ? true : undefined), 60_000, 'every event delivered').catch(() => undefined);

    for (const instance of INSTANCES) {
      const firsts: number[] = [];
      const seen = new Set<number>();
      for (const req of hook.requests) {
        const body = JSON.parse(req.body) as { instance: string; seq: number };
        if (body.instance !== instance || seen.has(body.seq)) continue;
        seen.add(body.seq);
        firsts.push(body.seq);
      }
      // Every event arrived, and each for the first time only after every earlier one of its instance.
      expect(firsts).toEqual(Array.from({ length: seqs.get(instance) ?? 0 }, (_, i) => i + 1));
    }
  });
});
