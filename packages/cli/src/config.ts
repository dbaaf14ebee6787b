import { z } from 'zod';
import { databaseEnv, loadConfig, natsEnv } from '@switchyard/runtime';
import { natsSigningEnv } from './commands/nats-credentials.ts';

/** The CLI talks to the same Postgres and NATS as the services, configured the same way. */
export const cliConfigSchema = z.object({ ...natsEnv, ...databaseEnv, ...natsSigningEnv });
export type CliConfig = z.infer<typeof cliConfigSchema>;

export function loadCliConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  return loadConfig(cliConfigSchema, env, { service: 'switchyard cli' });
}
