// `pnpm bench webhooks [--events N] [--instances N] [--out f.json]`: webhook-dispatch (in-process,
// fan-out → WEBHOOKS → per-endpoint workers) delivering to a local receiver on its own thread, beside a raw HTTP
// POST loop to the same receiver in the same run (delivery_ratio; both after a warm-up of 1,000), then the same load with a
// second endpoint that hangs for its whole timeout (isolation_ratio: the healthy endpoint's p99
// alone / with the hanging neighbour; ≥ 0.5 means within 2×). Each phase also reports `fan_out`:
// how long EVENTS → WEBHOOKS alone took (every delivery message stored), to tell the two stages apart,
// and `cpu_us_per_delivery`, beside the raw loop's `cpu_us_per_post` (post_cpu_ratio).
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { addEndpoint, type Pool } from '@switchyard/db';
import { announceTenant, NATS_CLIENT_TUNING, publishEvent, WEBHOOKS_STREAM } from '@switchyard/nats';
import { eventsSubject, newEventId } from '@switchyard/schema';
import { createTestPool, createTestTenant, randomName, startNatsServer, testLogger, testServiceEnv } from '@switchyard/testing';
import { startWebhookDispatch } from '../services/webhook-dispatch/src/app.ts';
import { loadWebhookDispatchConfig } from '../services/webhook-dispatch/src/config.ts';
import { cpuUsPer, numberArg, progress, rawHttpPostRate, ratio, round, runBench, startReceiverInWorker, summarizeLatencies, type BenchArgs, type ThreadedReceiver } from './lib/mod.ts';

interface Phase {
  deliveries: number;
  seconds: number;
  per_second: number;
  latency: ReturnType<typeof summarizeLatencies>;
  /** Publishing the events to EVENTS (256 acknowledged publishes in flight), the load's own pace. */
  publish: { seconds: number; per_second: number };
  /** Events → WEBHOOKS alone: from the first publish until every delivery message was stored. */
  fan_out: { seconds: number; per_second: number };
  /**
   * This process's CPU per delivery over the phase: the dispatcher, the load's publishes and
   * the receiver's thread (which the raw loop's `cpu_us_per_post` also counts).
   */
  cpu_us_per_delivery: number;
}

export default async function webhooks(args: BenchArgs): Promise<void> {
  const events = numberArg(args, 'events', 3_000);
  const instances = numberArg(args, 'instances', 8);
  await runBench('webhooks', args, async (ctx) => {
    const nats = await startNatsServer();
    // Tuned as the services' connections are: nats.js's default builds an Error per request for
    // async stack traces, which the load's publishes paid on the dispatcher's thread.
    const nc = await connect({ servers: nats.url, ...NATS_CLIENT_TUNING });
    const pool = await createTestPool();
    // On its own thread, as an endpoint is in another process: it answers 204 at once, and never
    // within the timeout on /hanging… paths.
    const receiver = await startReceiverInWorker();
    const bucket = randomName('tenants');
    const env = testServiceEnv(nats.url, { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WEBHOOK_ENDPOINT_CACHE_TTL: '1s', DATABASE_POOL_MAX: '8', WEBHOOK_ENDPOINT_CONCURRENCY: '16' });
    const service = await startWebhookDispatch(loadWebhookDispatchConfig(env), { logger: testLogger('webhook-dispatch'), tenantBucket: bucket });
    const cleanups: (() => Promise<void>)[] = [];
    try {
      // Warm-up, not measured: every code path compiled, pools and connections open, as the
      // e2e and persistence benches do; a cold first phase measured the JIT as much as the code.
      const warmUp = Math.min(events, 1_000);
      ctx.log(`warm-up: ${warmUp} events through the dispatcher, ${warmUp} raw POSTs`);
      await phase({ nc, pool, receiver, bucket, events: warmUp, instances, hanging: false, cleanups });
      await rawHttpPostRate(`${receiver.url}/raw`, { count: warmUp });
      ctx.log(`raw HTTP POST, ${events} requests`);
      const rawCpu = process.cpuUsage();
      const raw = { ...(await rawHttpPostRate(`${receiver.url}/raw`, { count: events })), cpu_us_per_post: cpuUsPer(rawCpu, events) };

      ctx.log(`all healthy: ${events} events over ${instances} instances`);
      const healthy = await phase({ nc, pool, receiver, bucket, events, instances, hanging: false, cleanups });
      ctx.log(`one healthy + one hanging endpoint: ${events} events`);
      const isolated = await phase({ nc, pool, receiver, bucket, events, instances, hanging: true, cleanups });

      return {
        delivery_ratio: ratio(healthy.per_second, raw.per_second),
        isolation_ratio: ratio(healthy.latency.p99_ms, isolated.latency.p99_ms),
        // CPU of one raw POST ÷ CPU of one delivery (this process, the receiver's thread in both).
        post_cpu_ratio: ratio(raw.cpu_us_per_post, healthy.cpu_us_per_delivery),
        raw_http_post: raw,
        webhooks_all_healthy: healthy,
        webhooks_healthy_beside_hanging: isolated,
        notes: 'latency = event published to EVENTS → request received; deliveries include fan-out, signing, the POST through undici and the Postgres delivery log (one record per attempt: its attempt and delivery rows in one prepared statement, shared by the records of up to 5 ms); raw_http_post = the same undici client with nothing else; fan_out = EVENTS → WEBHOOKS alone',
      };
    } finally {
      await service.stop();
      for (const cleanup of cleanups) await cleanup();
      await receiver.close();
      await pool.end();
      await nc.close();
      await nats.stop();
    }
  });
}

async function phase(options: {
  nc: NatsConnection;
  pool: Pool;
  receiver: ThreadedReceiver;
  bucket: string;
  events: number;
  instances: number;
  hanging: boolean;
  cleanups: (() => Promise<void>)[];
}): Promise<Phase> {
  const { nc, pool, receiver } = options;
  const created = await createTestTenant(pool, 'wb');
  options.cleanups.push(() => created.cleanup());
  const tenant = created.tenant;
  const path = `/healthy-${tenant}`;
  await addEndpoint(pool, tenant, { url: `${receiver.url}${path}` });
  if (options.hanging) await addEndpoint(pool, tenant, { url: `${receiver.url}/hanging-${tenant}`, timeoutMs: 10_000 });
  await announceTenant(nc.jetstream(), tenant, {}, { bucket: options.bucket });
  await new Promise((r) => setTimeout(r, 500));

  const sentAt = new Map<string, number>();
  const js = nc.jetstream();
  const bar = progress(options.hanging ? 'beside hanging' : 'all healthy', options.events);
  const jsm = await nc.jetstreamManager();
  const webhooksBefore = (await jsm.streams.info(WEBHOOKS_STREAM)).state.messages;
  const expectedFanOut = options.events * (options.hanging ? 2 : 1);
  // The load is built before the clock starts: encoding it is the bench's work, not the
  // dispatcher's, and it runs on the dispatcher's thread.
  const seqs = new Map<string, number>();
  const encoder = new TextEncoder();
  const load = Array.from({ length: options.events }, (_, i) => {
    const instance = `phone-${i % options.instances}`;
    const seq = (seqs.get(instance) ?? 0) + 1;
    seqs.set(instance, seq);
    const id = newEventId();
    const body = JSON.stringify({ id, tenant, instance, type: 'message.received', schema_version: 1, occurred_at: new Date().toISOString(), captured_at: new Date().toISOString(), seq, source: 'baileys', data: { message_id: `M${i}`, chat_jid: '5511999999999@s.whatsapp.net', from_me: false, timestamp: new Date().toISOString(), message_type: 'conversation', text: 'olá' } });
    return { id, subject: eventsSubject(tenant, instance, 'message.received'), data: encoder.encode(body) };
  });
  const cpu = process.cpuUsage();
  const started = performance.now();
  // Epoch ms on both threads' clocks (the receiver stamps arrivals the same way).
  const now = (): number => performance.timeOrigin + performance.now();
  const startedAt = now();
  const fannedOut = waitForFanOut(jsm, webhooksBefore + expectedFanOut).then(() => (performance.now() - started) / 1000);
  const inflight = new Set<Promise<unknown>>();
  for (const { id, subject, data } of load) {
    sentAt.set(id, now());
    const p = publishEvent(js, subject, data, { msgId: id }).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= 256) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  const publishSeconds = (performance.now() - started) / 1000;
  await waitForCount(receiver, path, options.events, (n) => bar.update(n));
  const cpuPerDelivery = cpuUsPer(cpu, options.events);
  bar.done();
  const got = await receiver.arrivals(path);
  // Up to the last delivery's arrival (the receiver's clock), not to the poll that noticed it.
  const seconds = (Math.max(...got.map((req) => req.at)) - startedAt) / 1000;
  const fanOutSeconds = await fannedOut;
  const latencies = got.map((req) => req.at - (sentAt.get(req.webhookId) ?? req.at));
  return {
    deliveries: got.length,
    seconds: round(seconds),
    per_second: Math.round(got.length / seconds),
    latency: summarizeLatencies(latencies),
    publish: { seconds: round(publishSeconds), per_second: Math.round(options.events / publishSeconds) },
    fan_out: { seconds: round(fanOutSeconds), per_second: Math.round(options.events / fanOutSeconds) },
    cpu_us_per_delivery: cpuPerDelivery,
  };
}

async function waitForFanOut(jsm: JetStreamManager, messages: number): Promise<void> {
  const deadline = Date.now() + 300_000;
  while ((await jsm.streams.info(WEBHOOKS_STREAM)).state.messages < messages) {
    if (Date.now() > deadline) throw new Error(`the fan-out stored fewer than ${messages} WEBHOOKS messages`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function waitForCount(receiver: ThreadedReceiver, path: string, count: number, onProgress: (n: number) => void): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const got = await receiver.count(path);
    onProgress(got);
    if (got >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${got}/${count} deliveries arrived`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
