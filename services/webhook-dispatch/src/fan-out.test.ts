import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addEndpoint } from '@switchyard/db';
import { publishEvent, WEBHOOKS_STREAM } from '@switchyard/nats';
import { dlqSubject, eventsSubject, newEventId, STREAMS } from '@switchyard/schema';
import type { RunningService } from '@switchyard/service';
import { eventually, startHttpReceiver, startServiceHarness, type HttpReceiver, type ServiceHarness } from '@switchyard/testing';
import { startWebhookDispatch } from './app.ts';
import { loadWebhookDispatchConfig } from './config.ts';

// WEBHOOKS refuses messages above this while the test holds the limit: the one big event's
// delivery fails to publish, every other one is stored.
const WEBHOOKS_LIMIT = 4_096;

describe('webhook fan-out', () => {
  let h: ServiceHarness<RunningService>;
  let hook: HttpReceiver;

  beforeAll(async () => {
    h = await startServiceHarness({
      service: 'webhook-dispatch',
      env: { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WEBHOOK_ENDPOINT_CACHE_TTL: '200ms' },
      start: (env, options) => startWebhookDispatch(loadWebhookDispatchConfig(env), options),
    });
    hook = await startHttpReceiver();
  });

  afterAll(async () => {
    await h?.stop();
    await hook?.close();
  });

  async function publish(tenant: string, instance: string, seq: number, text: string): Promise<void> {
    const id = newEventId();
    const body = JSON.stringify({
      id,
      tenant,
      instance,
      type: 'message.received',
      schema_version: 1,
      occurred_at: '2026-11-23T10:00:00.000Z',
      captured_at: '2026-11-23T10:00:00.100Z',
      seq,
      source: 'baileys',
      data: { message_id: `${instance}-${seq}`, chat_jid: '5511999999999@s.whatsapp.net', from_me: false, timestamp: '2026-11-23T10:00:00.000Z', message_type: 'conversation', text },
    });
    await publishEvent(h.js, eventsSubject(tenant, instance, 'message.received'), new TextEncoder().encode(body), { msgId: id });
  }

  async function limitWebhooks(maxMsgSize: number): Promise<void> {
    const info = await h.jsm.streams.info(WEBHOOKS_STREAM);
    await h.jsm.streams.update(WEBHOOKS_STREAM, { ...info.config, max_msg_size: maxMsgSize });
  }

  async function retriesOf(tenant: string): Promise<number> {
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    const line = metrics
      .split('\n')
      .find((l) => l.startsWith('events_consumed_total{') && l.includes(`tenant="${tenant}"`) && l.includes('outcome="retry"') && l.includes('service="webhook-dispatch"'));
    return Number(line?.split(' ').at(-1) ?? 0);
  }

  const seqsAt = (path: string, instance: string): number[] =>
    hook.requests
      .filter((req) => req.path === path)
      .map((req) => JSON.parse(req.body) as { instance: string; seq: number })
      .filter((body) => body.instance === instance)
      .map((body) => body.seq);

  it('retries a failed publish and the later events of its instance behind it: nothing lost, order kept', async () => {
    const tenant = await h.addTenant();
    await addEndpoint(h.pool, tenant, { url: `${hook.url}/hook` });
    await limitWebhooks(WEBHOOKS_LIMIT);
    try {
      // Interleaved, so one batch holds both instances; phone-1's seq 3 is too big for WEBHOOKS now.
      for (let seq = 1; seq <= 6; seq++) {
        await publish(tenant, 'phone-1', seq, seq === 3 ? 'x'.repeat(WEBHOOKS_LIMIT * 2) : 'olá');
        await publish(tenant, 'phone-2', seq, 'olá');
      }
      // phone-2 is not held back by phone-1's failure; phone-1 stops before its failed event.
      await hook.waitFor(6, (req) => req.path === '/hook' && (JSON.parse(req.body) as { instance: string }).instance === 'phone-2');
      // seq 3 failed, and 4–6 were retried behind it rather than published ahead of it.
      await eventually(async () => ((await retriesOf(tenant)) >= 4 ? true : undefined), 10_000, 'the retries of phone-1 from seq 3 on');
      expect(seqsAt('/hook', 'phone-2')).toEqual([1, 2, 3, 4, 5, 6]);
      expect(seqsAt('/hook', 'phone-1')).toEqual([1, 2]);
    } finally {
      await limitWebhooks(-1);
    }

    await hook.waitFor(12, (req) => req.path === '/hook', 30_000);
    // Every event once, each instance in seq order at the endpoint.
    expect(seqsAt('/hook', 'phone-1')).toEqual([1, 2, 3, 4, 5, 6]);
    expect(seqsAt('/hook', 'phone-2')).toEqual([1, 2, 3, 4, 5, 6]);
    const dead = await h.jsm.streams.getMessage(STREAMS.dlq, { last_by_subj: dlqSubject(tenant) }).catch(() => undefined);
    expect(dead).toBeUndefined();
  });
});
