import type { RunningService } from '@switchyard/service';
import { randomTenantId, startServiceHarness, type ServiceHarness } from '@switchyard/testing';
import { afterAll, beforeAll } from 'vitest';
import { startRouter } from './app.ts';
import { loadRouterConfig } from './config.ts';

export interface RouterWithTenant {
  h: ServiceHarness<RunningService>;
  tenant: string;
}

/** Tests: a router on its own nats-server with one fresh tenant announced (its durables follow). */
export async function startRouterWithTenant(env: Record<string, string> = {}): Promise<RouterWithTenant> {
  const h = await startServiceHarness({
    service: 'router',
    env,
    start: (serviceEnv, options) => startRouter(loadRouterConfig(serviceEnv), options),
  });
  const tenant = randomTenantId();
  await h.announce(tenant);
  return { h, tenant };
}

/**
 * startRouterWithTenant for the enclosing describe: started before its tests, stopped after them.
 * The getter answers inside a test.
 */
export function routerWithTenant(env: Record<string, string> = {}): () => RouterWithTenant {
  let started: RouterWithTenant | undefined;
  beforeAll(async () => {
    started = await startRouterWithTenant(env);
  });
  afterAll(async () => {
    await started?.h.stop();
  });
  return () => {
    if (started === undefined) throw new Error('routerWithTenant(): used outside the suite it was set up in');
    return started;
  };
}
