import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { addEndpoint, quoteIdent, tenantSchemaName, type Endpoint, type Pool } from '@switchyard/db';
import { WEBHOOK_HEADERS, type InboundMessage, type Outcome } from '@switchyard/nats';
import { newEventId } from '@switchyard/schema';
import { createTestPool, createTestTenant, eventually, startHttpReceiver, testLogger, type HttpReceiver, type TestTenant } from '@switchyard/testing';
import { deliverToEndpoint, FRESH_DELIVERY_MS, PENDING_VISIBLE_AFTER_MS } from './deliver-endpoint.ts';
import { DeliveryLog } from './delivery-log.ts';
import { InstanceLanes } from './instance-lanes.ts';
import { Semaphore } from './limiter.ts';
import { webhookMetrics } from './metrics.ts';
import { parseAllowList } from './ssrf-guard.ts';

/**
 * The endpoint worker's handler on its own, against real Postgres and a real receiver, with
 * delivery messages built here so their delivery count and store time can be chosen.
 */
describe('deliverToEndpoint and the delivery log', () => {
  let pool: Pool;
  let hook: HttpReceiver;
  let t: TestTenant;
  let endpoint: Endpoint;
  const stop = new AbortController();

  beforeAll(async () => {
    pool = await createTestPool();
    hook = await startHttpReceiver();
  });
  afterAll(async () => {
    stop.abort();
    await hook.close();
    await pool.end();
  });
  afterEach(async () => {
    await t.cleanup();
  });

  async function setup(): Promise<(msg: InboundMessage) => Promise<Outcome>> {
    t = await createTestTenant(pool, 'wd');
    endpoint = await addEndpoint(pool, t.tenant, { url: `${hook.url}/hook`, timeoutMs: 10_000 });
    return deliverToEndpoint({
      tenant: t.tenant,
      endpoint: () => endpoint,
      log: new DeliveryLog(pool),
      metrics: webhookMetrics(new Registry()),
      logger: testLogger('webhook-dispatch'),
      defaultScheduleMs: [0],
      retryAfterMaxMs: 1_000,
      allow: parseAllowList('127.0.0.1'),
      semaphore: new Semaphore(4),
      lanes: new InstanceLanes(),
      signal: stop.signal,
      onGone: () => Promise.resolve(),
    });
  }

  function deliveryMessage(eventId: string, options: { deliveryCount: number; storedAtMs: number; streamSeq: number }): InboundMessage {
    return {
      subject: `v1.webhooks.${t.tenant}.${endpoint.id}`,
      data: new TextEncoder().encode(JSON.stringify({ id: eventId })),
      headers: {
        [WEBHOOK_HEADERS.eventId]: [eventId],
        [WEBHOOK_HEADERS.eventType]: ['message.received'],
        [WEBHOOK_HEADERS.instance]: ['phone-1'],
        [WEBHOOK_HEADERS.seq]: ['1'],
      },
      tenant: t.tenant,
      ...options,
    };
  }

  async function row(eventId: string) {
    const result = await pool.query<{ status: string; attempts: number; stream_seq: string; written_once: boolean }>(
      `SELECT status, attempts, stream_seq, created_at = updated_at AS written_once
         FROM ${quoteIdent(tenantSchemaName(t.tenant))}.webhook_deliveries WHERE endpoint_id = $1 AND event_id = $2`,
      [endpoint.id, eventId],
    );
    return result.rows[0];
  }

  it('attempts a fresh first delivery at once and writes its log row once, as delivered', async () => {
    const handle = await setup();
    hook.respondWith(() => ({ status: 204 }));
    const eventId = newEventId();
    const outcome = await handle(deliveryMessage(eventId, { deliveryCount: 1, storedAtMs: Date.now(), streamSeq: 7 }));
    expect(outcome).toEqual({ kind: 'ack' });
    expect(hook.requests.filter((r) => r.headers['webhook-id'] === eventId)).toHaveLength(1);
    // One statement created the row in its final state: created and updated in one transaction.
    expect(await row(eventId)).toEqual({ status: 'delivered', attempts: 1, stream_seq: '7', written_once: true });
  });

  it('shows a fresh delivery whose attempt takes long as pending, then delivered', async () => {
    const handle = await setup();
    hook.respondWith(() => ({ status: 200, delayMs: PENDING_VISIBLE_AFTER_MS * 3 }));
    const eventId = newEventId();
    const delivering = handle(deliveryMessage(eventId, { deliveryCount: 1, storedAtMs: Date.now(), streamSeq: 8 }));
    const pending = await eventually(async () => row(eventId), PENDING_VISIBLE_AFTER_MS * 2, 'the pending row');
    expect(pending).toMatchObject({ status: 'pending', attempts: 0 });
    expect(await delivering).toEqual({ kind: 'ack' });
    expect(await row(eventId)).toMatchObject({ status: 'delivered', attempts: 1, written_once: false });
  });

  it('reads the log for a first delivery of an old message, so one delivered before is not sent again', async () => {
    const handle = await setup();
    hook.respondWith(() => ({ status: 204 }));
    const eventId = newEventId();
    await handle(deliveryMessage(eventId, { deliveryCount: 1, storedAtMs: Date.now(), streamSeq: 9 }));
    expect(hook.requests.filter((r) => r.headers['webhook-id'] === eventId)).toHaveLength(1);
    // The same message again on a first delivery, as a durable re-created over the stream sends it.
    const again = await handle(deliveryMessage(eventId, { deliveryCount: 1, storedAtMs: Date.now() - FRESH_DELIVERY_MS - 1_000, streamSeq: 9 }));
    expect(again).toEqual({ kind: 'ack' });
    expect(hook.requests.filter((r) => r.headers['webhook-id'] === eventId)).toHaveLength(1);
    expect(await row(eventId)).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it('starts a new run when a re-sent delivery (a newer message) arrives fresh, leaving no older run’s state', async () => {
    const handle = await setup();
    let failing = true;
    hook.respondWith(() => ({ status: failing ? 500 : 204 }));
    const eventId = newEventId();
    // Schedule [0]: one retry, then exhausted (dead-lettered with its history).
    const first = await handle(deliveryMessage(eventId, { deliveryCount: 1, storedAtMs: Date.now(), streamSeq: 10 }));
    expect(first.kind).toBe('dead-letter');
    expect(await row(eventId)).toMatchObject({ status: 'exhausted', attempts: 2, stream_seq: '10' });
    failing = false;
    const resent = await handle(deliveryMessage(eventId, { deliveryCount: 1, storedAtMs: Date.now(), streamSeq: 11 }));
    expect(resent).toEqual({ kind: 'ack' });
    expect(await row(eventId)).toMatchObject({ status: 'delivered', attempts: 1, stream_seq: '11' });
  });
});
