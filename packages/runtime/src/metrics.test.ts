import { Counter } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetricsRegistry } from './metrics.ts';

describe('createMetricsRegistry', () => {
  it('labels default and component metrics with the service', async () => {
    const registry = createMetricsRegistry('router');
    const counter = new Counter({ name: 'events_routed_total', help: 'routed', registers: [registry] });
    counter.inc();
    const text = await registry.metrics();
    expect(text).toMatch(/process_cpu_user_seconds_total\{service="router"\}/);
    expect(text).toContain('events_routed_total{service="router"} 1');
  });

  it('keeps registries independent', async () => {
    const a = createMetricsRegistry('a');
    const b = createMetricsRegistry('b');
    expect(await b.metrics()).not.toContain('service="a"');
    expect(await a.metrics()).toContain('service="a"');
  });
});
