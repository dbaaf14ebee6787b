import { defineConfig } from 'vitest/config';

// `pnpm test:chaos`: the fault-injection suite, kept out of the default run (see the root
// vitest.config.ts). Files run one at a time: each owns a nats-server, a scratch database and the
// six services as processes, and two cores cannot host two such fleets and still measure recovery.
export default defineConfig({
  test: {
    root: new URL('../../', import.meta.url).pathname,
    include: ['test/chaos/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 180_000,
    globalSetup: ['test/chaos/support/global-setup.ts'],
    reporters: ['default'],
  },
});
