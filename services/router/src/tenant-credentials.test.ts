import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckPolicy, connect, credsAuthenticator, type NatsConnection } from 'nats';
import {
  announceTenant,
  createNatsAuthority,
  mintServiceCreds,
  mintTenantUser,
  natsServerAuthConfig,
  tenantInboxPrefix,
  type NatsAuthority,
} from '@switchyard/nats';
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

const event = (tenant: string, seq: number) => messageReceivedEvent(tenant, 'phone-1', seq);

/** The server configuration shipped in deploy/nats, with this run's operator and accounts. */
describe('tenant NATS credentials (JWT auth, resolver MEMORY)', () => {
  let authority: NatsAuthority;
  let nats: NatsServer;
  let dir: string;
  let services: NatsConnection;
  let tenantA: NatsConnection;
  let router: RunningService;
  const a = randomTenantId();
  const b = randomTenantId();
  const bucket = randomName('tenants');

  async function connectTenant(tenant: string): Promise<NatsConnection> {
    const { creds } = await mintTenantUser(tenant, {
      signingSeed: authority.account.signingSeed,
      account: authority.account.publicKey,
    });
    return connect({
      servers: nats.url,
      authenticator: credsAuthenticator(encoder.encode(creds)),
      inboxPrefix: tenantInboxPrefix(tenant),
    });
  }

  beforeAll(async () => {
    authority = await createNatsAuthority();
    nats = await startNatsServer({ config: natsServerAuthConfig(authority) });
    dir = await mkdtemp(join(tmpdir(), 'switchyard-creds-'));
    const servicesCreds = await mintServiceCreds('switchyard-services', {
      signingSeed: authority.account.signingSeed,
      account: authority.account.publicKey,
    });
    await writeFile(join(dir, 'services.creds'), servicesCreds, { mode: 0o600 });
    services = await connect({
      servers: nats.url,
      authenticator: credsAuthenticator(encoder.encode(servicesCreds)),
    });
    router = await startRouter(
      loadRouterConfig(testServiceEnv(nats.url, { NATS_CREDS: join(dir, 'services.creds') })),
      {
        logger: testLogger('router'),
        tenantBucket: bucket,
      },
    );
    for (const t of [a, b]) await announceTenant(services.jetstream(), t, {}, { bucket });
    tenantA = await connectTenant(a);
  });

  afterAll(async () => {
    await router?.stop();
    await tenantA?.close();
    await services?.close();
    await nats?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('refuses a connection without credentials', async () => {
    await expect(connect({ servers: nats.url, reconnect: false })).rejects.toThrow(
      /Authorization/i,
    );
  });

  it("lets tenant A's valid events flow through the router to EVENTS", async () => {
    const js = tenantA.jetstream();
    const events = [event(a, 1), event(a, 2), event(a, 3)];
    for (const e of events) {
      const ack = await js.publish(
        ingestSubject(a, 'phone-1', 'message.received'),
        encoder.encode(JSON.stringify(e)),
        { msgID: e.id },
      );
      expect(ack.stream).toBe(STREAMS.ingest);
    }
    const routed = decodeJson<{ id: string }>(
      await readStream(services, STREAMS.events, `v1.events.${a}.>`, events.length),
    );
    expect(routed.map((e) => e.id)).toEqual(events.map((e) => e.id));
  });

  it("refuses tenant A publishing to tenant B's ingest subject", async () => {
    const forged = event(b, 1);
    await expect(
      tenantA
        .jetstream()
        .publish(
          ingestSubject(b, 'phone-1', 'message.received'),
          encoder.encode(JSON.stringify(forged)),
          { msgID: forged.id, timeout: 1_000 },
        ),
    ).rejects.toThrow();
    const jsm = await services.jetstreamManager();
    const stored = await jsm.streams.info(STREAMS.ingest, { subjects_filter: `v1.ingest.${b}.>` });
    expect(stored.state.subjects ?? {}).toEqual({});
  });

  it("refuses tenant A reading tenant B's events, by subscription or by JetStream consumer", async () => {
    const sub = tenantA.subscribe(`v1.events.${b}.>`);
    await expect(
      (async () => {
        for await (const _ of sub) return 'received';
        return 'closed';
      })(),
    ).rejects.toThrow(/Permissions Violation/i);

    const jsm = await tenantA.jetstreamManager({ checkAPI: false });
    await expect(
      jsm.consumers.add(STREAMS.events, {
        name: randomName('spy'),
        filter_subject: `v1.events.${b}.>`,
        ack_policy: AckPolicy.None,
      }),
    ).rejects.toThrow();
    const consumers = await (
      await services.jetstreamManager()
    ).consumers
      .list(STREAMS.events)
      .next();
    expect(consumers.filter((c) => c.name.startsWith('spy'))).toEqual([]);
  });
});
