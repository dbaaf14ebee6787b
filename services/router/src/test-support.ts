import type { RunningService } from '@switchyard/service';
import { randomTenantId, startServiceHarness, type ServiceHarness } from '@switchyard/testing';
import { startRouter } from './app.ts';
import { loadRouterConfig } from './config.ts';

/** Tests: a router on its own nats-server with one fresh tenant announced (its durables follow). */
export async function startRouterWithTenant(env: Record<string, string> = {}): Promise<{ h: ServiceHarness<RunningService>; tenant: string }> {
  const h = await startServiceHarness({
    service: 'router',
    env,
    start: (serviceEnv, options) => startRouter(loadRouterConfig(serviceEnv), options),
  });
  const tenant = randomTenantId();
  await h.announce(tenant);
  return { h, tenant };
}
