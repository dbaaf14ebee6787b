import { describe, expect, it } from 'vitest';
import { startTracing, tracer } from './tracing.ts';

describe('startTracing', () => {
  it('stays off without an endpoint, and tracer() still works', async () => {
    const handle = startTracing({ serviceName: 'router', endpoint: undefined });
    expect(handle.enabled).toBe(false);
    tracer('test').startSpan('noop').end();
    await handle.shutdown();
  });

  it('starts the SDK when an endpoint is set', async () => {
    const handle = startTracing({ serviceName: 'router', endpoint: 'http://127.0.0.1:1/' });
    expect(handle.enabled).toBe(true);
    await handle.shutdown();
  });
});
