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
  WEBHOOK_PARTITIONS: '8',
};
const INSTANCES = ['phone-1', 'phone-2', 'phone-3'];

/** A tenant with one endpoint on the first replica, and bursts of its events over INSTANCES in seq order. */
function twoReplicas(env: Record<string, string>) {
  const state: { h?: ServiceHarness<RunningService>; second?: RunningService; hook?: HttpReceiver } = {};
  beforeAll(async () => {
    state.h = await startServiceHarness({
      service: 'webhook-dispatch',
      env,
      start: (serviceEnv, options) => startWebhookDispatch(loadWebhookDispatchConfig(serviceEnv), options),
    });
    state.hook = await startHttpReceiver();
  });
  afterAll(async () => {
    await state.second?.stop();
    await state.h?.stop();
    await state.hook?.close();
  });

  return async () => {
    const h = state.h!;
    const hook = state.hook!;
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
    /**
     * 300 events on the first replica, which owns every partition while alone; then a second
     * replica starts and the first leaves (drained) with deliveries and events in flight, so the
     * second takes the tenant over; then 300 more. Answers when the first began to stop.
     */
    const handOverMidStream = async (): Promise<number> => {
      await publish(300);
      await hook.waitFor(30, (req) => req.path === '/hook');
      state.second = await startWebhookDispatch(loadWebhookDispatchConfig(testServiceEnv(`nats://${h.nc.getServer()}`, env)), {
        logger: testLogger('webhook-dispatch-2'),
        tenantBucket: h.bucket,
      });
      const stoppedAt = Date.now();
      await h.service.stop();
      await publish(300);
      return stoppedAt;
    };
    // Handed-back deliveries may arrive twice (at least once): events delivered at least once.
    const unique = (): number => new Set(hook.requests.map((req) => String(req.headers['webhook-id']))).size;
    /** Each instance's first arrivals: every event, each only after every earlier one of its instance. */
    const expectInOrder = (): void => {
      for (const instance of INSTANCES) {
        const firsts: number[] = [];
        const seen = new Set<number>();
        for (const req of hook.requests) {
          const body = JSON.parse(req.body) as { instance: string; seq: number };
          if (body.instance !== instance || seen.has(body.seq)) continue;
          seen.add(body.seq);
          firsts.push(body.seq);
        }
        expect(firsts).toEqual(Array.from({ length: seqs.get(instance) ?? 0 }, (_, i) => i + 1));
      }
    };
    return { handOverMidStream, unique, expectInOrder };
  };
}

describe('webhook-dispatch with two replicas', () => {
  // Ownership moves within a test's patience: short leases, short ack wait behind the fence.
  const setUp = twoReplicas({ ...ENV, WEBHOOK_LEASE_TTL: '2s', WEBHOOK_ACK_WAIT: '2s' });

  it('keeps every instance in order at the endpoint while the owning replica hands over mid-stream, losing nothing', async () => {
    const { handOverMidStream, unique, expectInOrder } = await setUp();
    await handOverMidStream();
    await eventually(async () => (unique() >= 600 ? true : undefined), 60_000, 'every event delivered').catch(() => undefined);
    expectInOrder();
  });
});

describe('webhook-dispatch replicas handing a tenant over cleanly', () => {
  // The default ack wait: a takeover fence would hold the tenant's deliveries for 30 s.
  const setUp = twoReplicas({ ...ENV, WEBHOOK_LEASE_TTL: '2s', WEBHOOK_ACK_WAIT: '30s' });

  it('resumes the tenant at the other replica within seconds, not after the ack wait, in order', async () => {
    const { handOverMidStream, unique, expectInOrder } = await setUp();
    const stoppedAt = await handOverMidStream();
    await eventually(async () => (unique() >= 600 ? true : undefined), 60_000, 'every event delivered');
    // Drained: it stopped, handed back what it held and marked its partitions handed over, so
    // the second replica starts their tenants at once instead of waiting out WEBHOOK_ACK_WAIT.
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    expectInOrder();
  });
});
