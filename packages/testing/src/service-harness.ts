import type { Pool } from '@switchyard/db';
import { announceTenant } from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import { connect, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import { startNatsServer } from './nats-server.ts';
import { createTestPool, createTestTenant, type TestTenant } from './postgres.ts';
import { randomName } from './random.ts';
import { testLogger, testServiceEnv } from './service-env.ts';

/**
 * The part of a running service a harness needs. Structural on purpose: @switchyard/service
 * depends on the packages this one fixtures, so importing its RunningService would be a cycle.
 */
export interface HarnessedService {
  readonly address: { readonly url: string };
  stop(): Promise<void>;
}

export interface StartServiceHarnessOptions<S extends HarnessedService> {
  /** Starts the real service from its environment, with the harness's logger and tenant bucket. */
  start(env: Record<string, string>, options: { logger: Logger; tenantBucket: string }): Promise<S>;
  /** The service name, for its test logger. */
  service: string;
  /** Variables on top of testServiceEnv (shorter backoffs, fewer deliveries…). */
  env?: Record<string, string>;
  /** The prefix of tenants from `addTenant()` without one. Default `t`. */
  tenantPrefix?: string;
  /**
   * Cleanup that needs the pool while it is still open: runs after the service and the client
   * stopped, before the tenants are dropped. Gets every tenant the harness provisioned or announced.
   */
  onStop?(context: { pool: Pool; tenants: readonly string[] }): Promise<void>;
}

export interface ServiceHarness<S extends HarnessedService> {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  pool: Pool;
  service: S;
  /** The service's HTTP base URL. */
  url: string;
  /** The service's private tenant registry bucket. */
  bucket: string;
  /** Provisions a schema for a random tenant and announces it to the service. */
  addTenant(prefix?: string): Promise<string>;
  /** Announces a tenant without provisioning it (never provisioned, mid-provisioning or deleted). */
  announce(tenant: string): Promise<void>;
  /** Stops the service, the client, drops the tenants it provisioned and stops NATS. */
  stop(): Promise<void>;
}

/**
 * One real service against a private nats-server and the test database, with a random tenant
 * bucket so it only consumes for the tenants this test file announces.
 */
export async function startServiceHarness<S extends HarnessedService>(
  options: StartServiceHarnessOptions<S>,
): Promise<ServiceHarness<S>> {
  const server = await startNatsServer();
  const pool = await createTestPool();
  const bucket = randomName('tenants');
  const provisioned: TestTenant[] = [];
  const claimed: string[] = [];
  const service = await options.start(testServiceEnv(server.url, options.env), {
    logger: testLogger(options.service),
    tenantBucket: bucket,
  });
  const nc = await connect({ servers: server.url });
  const js = nc.jetstream();
  const announce = async (tenant: string): Promise<void> => {
    claimed.push(tenant);
    await announceTenant(js, tenant, {}, { bucket });
  };
  return {
    nc,
    js,
    jsm: await nc.jetstreamManager(),
    pool,
    service,
    url: service.address.url,
    bucket,
    announce,
    async addTenant(prefix = options.tenantPrefix ?? 't') {
      const created = await createTestTenant(pool, prefix);
      provisioned.push(created);
      await announce(created.tenant);
      return created.tenant;
    },
    async stop() {
      await service.stop();
      await nc.drain();
      await options.onStop?.({ pool, tenants: claimed });
      for (const tenant of provisioned) await tenant.cleanup();
      await pool.end();
      await server.stop();
    },
  };
}
