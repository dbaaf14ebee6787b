import { Registry, collectDefaultMetrics } from 'prom-client';

export type { Registry } from 'prom-client';

/**
 * One registry per service process, passed to every component: nothing registers on the
 * prom-client global, so tests can build several services in one process without name clashes.
 */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}
