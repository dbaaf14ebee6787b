import { z } from 'zod';
import { envDurationList, envInt, loadConfig } from '@switchyard/runtime';
import { serviceEnv } from '@switchyard/service';

export const persistenceConfigSchema = z.object({
  ...serviceEnv(8083),
  /**
   * Deliveries of one EVENTS message before it is dead-lettered. Covers a Postgres outage and a
   * tenant whose schema is still being provisioned, so keep it × the backoff longer than either.
   */
  PERSISTENCE_MAX_DELIVER: envInt({ min: 1, max: 1000, default: 20 }).describe(
    'Deliveries before an EVENTS message is dead-lettered (Postgres down, tenant schema missing)',
  ),
  /** nak delays by delivery; the last one repeats. */
  PERSISTENCE_RETRY_BACKOFF: envDurationList('1s,5s,15s,60s').describe(
    'Delay before each redelivery after a retryable failure, e.g. 1s,5s,15s,60s (the last repeats)',
  ),
});
export type PersistenceConfig = z.infer<typeof persistenceConfigSchema>;

export function loadPersistenceConfig(env: NodeJS.ProcessEnv = process.env): PersistenceConfig {
  return loadConfig(persistenceConfigSchema, env, { service: 'persistence' });
}
