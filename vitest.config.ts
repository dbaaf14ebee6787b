import { defineConfig } from 'vitest/config';

// Integration tests talk to a real NATS and Postgres; the machine has 2 cores, so keep the
// pool small and the timeouts generous rather than flaky.
export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'test/**/*.test.ts', 'helm/**/*.test.ts', 'bench/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'test/chaos/**'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default'],
  },
});
