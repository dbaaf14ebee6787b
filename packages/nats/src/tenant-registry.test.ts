import { afterEach, describe, expect, it } from 'vitest';
import { isConsumerNotFound } from './errors.ts';
import { ack, type Handler } from './outcome.ts';
import { publishEvent } from './publish.ts';
import { ensureDurableConsumer } from './consumers.ts';
import {
  announceTenant,
  awaitTakeover,
  followTenants,
  retractTenant,
  startTenantConsumers,
  watchTenants,
  type TenantConsumers,
  type TenantGate,
} from './tenant-registry.ts';
import { decode, deferred, encode, randomTenant, testLogger, testNats, waitFor, type TestNats } from './test-support.ts';

describe('tenant registry', () => {
  let t: TestNats | undefined;
  let consumers: TenantConsumers | undefined;

  afterEach(async () => {
    await consumers?.stop();
    consumers = undefined;
    await t?.close();
    t = undefined;
  });

  it('delivers existing tenants first, then live additions and removals', async () => {
    const n = await testNats();
    t = n;
    const [a, b, c] = [randomTenant(), randomTenant(), randomTenant()];
    await announceTenant(n.js, a, { plan: 'x' }, { bucket: n.bucket });
    await announceTenant(n.js, b, {}, { bucket: n.bucket });
    const events: string[] = [];
    const watch = await watchTenants(n.js, {
      bucket: n.bucket,
      onAdded: (tenant) => void events.push(`+${tenant}`),
      onRemoved: (tenant) => void events.push(`-${tenant}`),
    });
    await watch.ready;
    expect(events.sort()).toEqual([`+${a}`, `+${b}`].sort());
    await announceTenant(n.js, c, {}, { bucket: n.bucket });
    await announceTenant(n.js, a, { plan: 'y' }, { bucket: n.bucket }); // an update is not a new tenant
    await retractTenant(n.js, b, { bucket: n.bucket });
    await waitFor(() => events.length === 4);
    await watch.stop();
    expect(events.slice(2)).toEqual([`+${c}`, `-${b}`]);
  });

  it('is ready at once on an empty bucket', async () => {
    const n = await testNats();
    t = n;
    const watch = await watchTenants(n.js, { bucket: n.bucket, onAdded: () => undefined, onRemoved: () => undefined });
    await watch.ready;
    await watch.stop();
  });

  function startFor(n: TestNats, handlerFor: (tenant: string) => Handler): Promise<TenantConsumers> {
    return startTenantConsumers({
      js: n.js,
      jsm: n.jsm,
      service: 'persistence',
      kind: 'ingest',
      handlerFor,
      logger: testLogger,
      registry: n.registry,
      bucket: n.bucket,
      streamName: n.streams.ingest.name,
      filterSubjectFor: (tenant) => n.ingestFilter(tenant),
      dlqSubjectFor: (tenant) => n.dlqSubject(tenant),
      consumerOptions: { retryBackoffMs: [20] },
    });
  }

  it('starts a consumer for a tenant announced while running, and deletes it on retraction', async () => {
    const n = await testNats();
    t = n;
    const existing = randomTenant();
    await announceTenant(n.js, existing, {}, { bucket: n.bucket });
    const seen: string[] = [];
    consumers = await startFor(n, (tenant) => async (msg) => {
      seen.push(`${tenant}:${decode(msg.data)}`);
      return ack();
    });
    expect(consumers.tenants()).toEqual([existing]);

    const late = randomTenant();
    await announceTenant(n.js, late, {}, { bucket: n.bucket });
    await waitFor(() => consumers?.tenants().includes(late), 15_000, 'the late tenant consumer');
    await publishEvent(n.js, n.ingestSubject(late), encode('hello'), { msgId: 'late-1' });
    await publishEvent(n.js, n.ingestSubject(existing), encode('hi'), { msgId: 'existing-1' });
    await waitFor(() => seen.length === 2, 15_000, 'both tenants consumed');
    expect(seen.sort()).toEqual([`${existing}:hi`, `${late}:hello`].sort());
    const info = await n.jsm.consumers.info(n.streams.ingest.name, `persistence_${late}`);
    expect(info.config.filter_subject).toBe(n.ingestFilter(late));

    await retractTenant(n.js, late, { bucket: n.bucket });
    await waitFor(() => !consumers?.tenants().includes(late), 15_000, 'the retracted tenant to stop');
    await waitFor(
      () =>
        n.jsm.consumers.info(n.streams.ingest.name, `persistence_${late}`).then(
          () => undefined,
          (err: unknown) => isConsumerNotFound(err) || undefined,
        ),
      15_000,
      'the retracted durable to be deleted',
    );
    expect(consumers.tenants()).toEqual([existing]);
  });

  it("a tenant's hung handler does not stall another tenant", async () => {
    const n = await testNats();
    t = n;
    const [slow, fast] = [randomTenant(), randomTenant()];
    await announceTenant(n.js, slow, {}, { bucket: n.bucket });
    await announceTenant(n.js, fast, {}, { bucket: n.bucket });
    const hang = deferred();
    const fastSeen: string[] = [];
    consumers = await startFor(n, (tenant) =>
      tenant === slow
        ? async () => {
            await hang.promise;
            return ack();
          }
        : async (msg) => {
            fastSeen.push(decode(msg.data));
            return ack();
          },
    );
    await publishEvent(n.js, n.ingestSubject(slow), encode('stuck'), { msgId: 's-1' });
    for (let i = 0; i < 3; i++) await publishEvent(n.js, n.ingestSubject(fast), encode(`f${i}`), { msgId: `f-${i}` });
    await waitFor(() => fastSeen.length === 3, 15_000, 'the fast tenant');
    expect(fastSeen).toEqual(['f0', 'f1', 'f2']);
    hang.resolve();
  });
});

describe('tenant registry for the DLQ kind', () => {
  it('always consumes the _system tenant', async () => {
    const n = await testNats();
    const seen: string[] = [];
    const consumers = await startTenantConsumers({
      js: n.js,
      jsm: n.jsm,
      service: 'dlq-worker',
      kind: 'dlq',
      handlerFor: (tenant) => async () => {
        seen.push(tenant);
        return ack();
      },
      logger: testLogger,
      registry: n.registry,
      bucket: n.bucket,
      streamName: n.streams.dlq.name,
      filterSubjectFor: (tenant) => n.dlqSubject(tenant),
      consumerOptions: { maxDeliver: -1 },
    });
    try {
      expect(consumers.tenants()).toEqual(['_system']);
      await publishEvent(n.js, n.dlqSubject('_system'), encode('{}'), { msgId: 'sys-1' });
      await waitFor(() => seen.length === 1, 15_000, 'the _system DLQ message');
      const info = await n.jsm.consumers.info(n.streams.dlq.name, 'dlq_worker__system');
      expect(info.config.filter_subject).toBe(n.dlqSubject('_system'));
    } finally {
      await consumers.stop();
      await n.close();
    }
  });
});

describe('tenant gate (single ownership)', () => {
  it('runs a tenant only while the gate admits it, and a revocation waits for its worker to stop', async () => {
    const n = await testNats();
    const [a, b] = [randomTenant(), randomTenant()];
    await announceTenant(n.js, a, {}, { bucket: n.bucket });
    await announceTenant(n.js, b, {}, { bucket: n.bucket });
    const admitted = new Set([a]);
    let changed: (() => Promise<void>) | undefined;
    const gate: TenantGate = {
      admits: (tenant) => admitted.has(tenant),
      listen(fn) {
        changed = fn;
        return () => (changed = undefined);
      },
    };
    const log: string[] = [];
    const consumers = await followTenants({
      js: n.js,
      jsm: n.jsm,
      stream: n.streams.ingest.name,
      logger: testLogger,
      bucket: n.bucket,
      gate,
      start(tenant) {
        log.push(`start ${tenant}`);
        return {
          durable: `d_${tenant}`,
          async stop() {
            await new Promise((r) => setTimeout(r, 50));
            log.push(`stopped ${tenant}`);
          },
        };
      },
    });
    try {
      expect(consumers.tenants()).toEqual([a]);
      admitted.add(b);
      await changed?.();
      expect(consumers.tenants()).toEqual([a, b].sort());
      admitted.delete(a);
      await changed?.();
      // Resolved only after the worker stopped: a lease may be released right after.
      expect(log).toEqual([`start ${a}`, `start ${b}`, `stopped ${a}`]);
      expect(consumers.tenants()).toEqual([b]);
    } finally {
      await consumers.stop();
      await n.close();
    }
    expect(changed).toBeUndefined();
  });

  it('fences a taken-over durable until its unacked messages are due again', async () => {
    const n = await testNats();
    try {
      const durable = `fence_${randomTenant()}`;
      await ensureDurableConsumer(n.jsm, { stream: n.streams.ingest.name, durable, filterSubject: n.ingestFilter('x'), ackWaitMs: 1_000 });
      const signal = new AbortController().signal;
      let started = Date.now();
      await awaitTakeover({ jsm: n.jsm, stream: n.streams.ingest.name, durable, signal });
      expect(Date.now() - started).toBeLessThan(500);

      await publishEvent(n.js, n.ingestSubject('x'), encode('left unacked'), { msgId: 'fence-1' });
      const consumer = await n.js.consumers.get(n.streams.ingest.name, durable);
      const held = await consumer.next({ expires: 2_000 });
      expect(held).not.toBeNull();
      // The "dead" holder never acks: the fence waits about ack_wait from its delivery.
      started = Date.now();
      await awaitTakeover({ jsm: n.jsm, stream: n.streams.ingest.name, durable, signal });
      expect(Date.now() - started).toBeGreaterThanOrEqual(700);
      const again = await consumer.next({ expires: 2_000 });
      expect(again?.info.redelivered).toBe(true);
      again?.ack();
      await waitFor(async () => (await n.jsm.consumers.info(n.streams.ingest.name, durable)).num_ack_pending === 0 || undefined, 5_000, 'acked');
      started = Date.now();
      await awaitTakeover({ jsm: n.jsm, stream: n.streams.ingest.name, durable, signal });
      expect(Date.now() - started).toBeLessThan(500);
    } finally {
      await n.close();
    }
  });
});
