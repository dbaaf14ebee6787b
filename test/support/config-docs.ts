import { tmpdir } from 'node:os';
import type { z } from 'zod';
import { describeEnv } from '@switchyard/runtime';
import { cliConfigSchema } from '../../packages/cli/src/config.ts';
import { captureConfigSchema } from '../../services/capture/src/config.ts';
import { dlqWorkerConfigSchema } from '../../services/dlq-worker/src/config.ts';
import { mediaConfigSchema } from '../../services/media/src/config.ts';
import { persistenceConfigSchema } from '../../services/persistence/src/config.ts';
import { routerConfigSchema } from '../../services/router/src/config.ts';
import { webhookDispatchConfigSchema } from '../../services/webhook-dispatch/src/config.ts';

const SCHEMAS: [string, z.ZodObject][] = [
  ['capture', captureConfigSchema],
  ['router', routerConfigSchema],
  ['persistence', persistenceConfigSchema],
  ['media', mediaConfigSchema],
  ['webhook-dispatch', webhookDispatchConfigSchema],
  ['dlq-worker', dlqWorkerConfigSchema],
  ['CLI (`pnpm switchyard`)', cliConfigSchema],
];

/** Variables read by the scripts and test fixtures rather than by a service. */
const DEVELOPMENT = [
  '## Running locally and testing',
  '',
  '| variable | default | meaning |',
  '|---|---|---|',
  '| `SWITCHYARD_SERVICES` | all six | `npm start` runs only these services (comma-separated, e.g. `router,persistence`) |',
  '| `SWITCHYARD_SKIP_BOOTSTRAP` | unset | `1` skips the pnpm/dependency/tool checks of `npm start` and `npm test` |',
  '| `NO_COLOR` | unset | `npm start` prints its prefixes without colour |',
  '| `TEST_DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/switchyard_test` | database the tests use (created if missing; tenants get random ids) |',
  '| `TEST_NATS_URL` | `nats://127.0.0.1:4222` | shared NATS for tests that do not start their own |',
  '| `NATS_SERVER_BIN` | `.tools/bin/nats-server`, else `nats-server` on PATH | server binary tests start on a free port with a temporary store |',
  '| `TEST_LOG_LEVEL` | `error` | log level of services started inside tests |',
];

function row(v: ReturnType<typeof describeEnv>[number], shared = false): string {
  const def =
    shared && v.name === 'HTTP_PORT'
      ? 'per service'
      : v.default === undefined
        ? v.required
          ? 'required'
          : 'unset'
        : v.default === ''
          ? 'empty'
          : // A default under the temporary directory depends on TMPDIR, not on this machine's /tmp.
          `\`${String(v.default).replace(tmpdir(), '$TMPDIR')}\``;
  return `| \`${v.name}\` | ${def} | ${(v.description ?? '').replaceAll('|', '\\|')} |`;
}

/**
 * docs/configuration.md, generated from the services' own zod config schemas so it cannot drift:
 * `pnpm docs:config` rewrites it and test/docs/configuration.test.ts fails when it is stale.
 */
export function renderConfigurationDoc(): string {
  const shared = new Map(describeEnv(routerConfigSchema).map((v) => [v.name, v]));
  for (const [, schema] of SCHEMAS.slice(0, 6)) {
    const names = new Set(describeEnv(schema).map((v) => v.name));
    for (const name of shared.keys()) if (!names.has(name)) shared.delete(name);
  }
  const lines = [
    '# Configuration',
    '',
    '<!-- Generated from the zod config schemas by `pnpm docs:config`; a test fails when it is stale. -->',
    '',
    'Every service reads its configuration from environment variables, validated at start. A bad',
    'value stops the service (exit code 1) with one message that names every bad variable. Empty',
    'values count as unset. Durations take a unit: `250ms`, `10s`, `2m`, `1h`, `7d`.',
    '',
    '## Shared by every service',
    '',
    '| variable | default | meaning |',
    '|---|---|---|',
    ...[...shared.values()].map((v) => row(v, true)),
    '',
    'Default HTTP ports: capture 8081, router 8082, persistence 8083, media 8084, webhook-dispatch 8085, dlq-worker 8086.',
  ];
  for (const [name, schema] of SCHEMAS) {
    const own = describeEnv(schema).filter((v) => !shared.has(v.name) || name.startsWith('CLI'));
    if (own.length === 0) continue;
    lines.push('', `## ${name}`, '', '| variable | default | meaning |', '|---|---|---|', ...own.map((v) => row(v)));
  }
  lines.push('', ...DEVELOPMENT);
  return `${lines.join('\n')}\n`;
}
