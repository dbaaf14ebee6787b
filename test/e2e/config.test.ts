import { describe, expect, it } from 'vitest';
import { runTs, SERVICES } from '../support/processes.ts';

describe('service configuration', () => {
  // Each service is started as a real process, exactly as `pnpm start` and the Helm chart do.
  it.each(SERVICES)('%s exits 1 naming every bad variable, without a stack trace', async (service) => {
    const result = await runTs(`services/${service}/src/main.ts`, [], {
      NATS_URL: 'http://not-nats',
      HTTP_PORT: 'eighty',
      LOG_LEVEL: 'loud',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('NATS_URL');
    expect(result.stderr).toContain('HTTP_PORT');
    expect(result.stderr).toContain('LOG_LEVEL');
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack frames
  });

  it('the CLI refuses a bad DATABASE_URL with one message', async () => {
    const result = await runTs('packages/cli/src/main.ts', ['tenant', 'list'], { DATABASE_URL: 'mysql://x' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('DATABASE_URL');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('a service pointed at an unreachable NATS says so and how to start it', async () => {
    const result = await runTs('services/router/src/main.ts', [], {
      NATS_URL: 'nats://127.0.0.1:1',
      NATS_CONNECT_TIMEOUT: '1s',
      DATABASE_URL: process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/switchyard_test',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/NATS/);
    expect(result.stderr).toContain('127.0.0.1:1');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
