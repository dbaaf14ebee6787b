import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import { announceTenant } from '@switchyard/nats';
import { ingestSubject, STREAMS } from '@switchyard/schema';
import type { RunningService } from '@switchyard/service';
import {
  decodeJson,
  randomName,
  randomTenantId,
  readStream,
  startNatsServer,
  testLogger,
  testServiceEnv,
  type NatsServer,
  messageReceivedEvent,
} from '@switchyard/testing';
import { startRouter } from './app.ts';
import { loadRouterConfig } from './config.ts';

const encoder = new TextEncoder();

const event = messageReceivedEvent;

async function gapsCounted(routers: RunningService[], tenant: string): Promise<number> {
  let total = 0;
  for (const router of routers) {
    const metric = await router.context.registry
      .getSingleMetric('event_sequence_gaps_total')
      ?.get();
    total +=
      metric?.values
        .filter((v) => v.labels['tenant'] === tenant)
        .reduce((a, v) => a + v.value, 0) ?? 0;
  }
  return total;
}

describe('router replicas', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  const routers: RunningService[] = [];
  const tenant = randomTenantId();
  const bucket = randomName('tenants');

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    await announceTenant(nc.jetstream(), tenant, {}, { bucket });
    for (let i = 0; i < 3; i++) {
      routers.push(
        await startRouter(loadRouterConfig(testServiceEnv(nats.url)), {
          logger: testLogger('router'),
          tenantBucket: bucket,
        }),
      );
    }
  });

  afterAll(async () => {
    for (const router of routers) await router.stop();
    await nc?.close();
    await nats?.stop();
  });

  it('keep per-instance order from INGEST to EVENTS while sharing the durable, and count a real gap once', async () => {
    const js = nc.jetstream();
    const instances = ['phone-1', 'phone-2'];
    // seq 151 is never published: one gap per instance, which three replicas must count once.
    const seqs = Array.from({ length: 300 }, (_, i) => i + 1).filter((s) => s !== 151);
    const publishes: Promise<unknown>[] = [];
    for (const seq of seqs) {
      for (const instance of instances) {
        const e = event(tenant, instance, seq);
        publishes.push(
          js.publish(
            ingestSubject(tenant, instance, 'message.received'),
            encoder.encode(JSON.stringify(e)),
            { msgID: e.id },
          ),
        );
      }
    }
    await Promise.all(publishes);

    for (const instance of instances) {
      const routed = decodeJson<{ seq: number }>(
        await readStream(
          nc,
          STREAMS.events,
          `v1.events.${tenant}.${instance}.>`,
          seqs.length,
          60_000,
        ),
      );
      expect(routed.map((e) => e.seq)).toEqual(seqs);
    }
    // Every replica took part: the order above is not one replica doing all the work.
    const routedBy = await Promise.all(
      routers.map(
        async (r) =>
          (
            await r.context.registry.getSingleMetric('router_events_routed_total')?.get()
          )?.values.reduce((a, v) => a + v.value, 0) ?? 0,
      ),
    );
    expect(routedBy.filter((n) => n > 0).length).toBeGreaterThan(1);
    expect(await gapsCounted(routers, tenant)).toBe(instances.length);
  });
});
