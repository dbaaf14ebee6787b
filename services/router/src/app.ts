import { startService, type RunningService } from '@switchyard/service';
import type { Logger } from '@switchyard/runtime';
import type { RouterConfig } from './config.ts';
import { routerMetrics } from './metrics.ts';
import { routeIngest } from './route-ingest.ts';

export interface RouterOptions {
  logger?: Logger;
  tenantBucket?: string;
}

/** The router: one durable per tenant on INGEST, every event validated before it reaches EVENTS. */
export function startRouter(config: RouterConfig, options: RouterOptions = {}): Promise<RunningService> {
  return startService({
    service: 'router',
    config,
    ...options,
    async wire(ctx) {
      const metrics = routerMetrics(ctx.registry);
      await ctx.consumeTenants(
        'ingest',
        () => routeIngest({ js: ctx.js, logger: ctx.logger, metrics, maxPayloadBytes: config.ROUTER_MAX_PAYLOAD_BYTES }),
        { maxDeliver: config.ROUTER_MAX_DELIVER },
      );
    },
  });
}
