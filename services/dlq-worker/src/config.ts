import { z } from 'zod';
import { envDurationList, loadConfig } from '@switchyard/runtime';
import { serviceEnv } from '@switchyard/service';

export const dlqWorkerConfigSchema = z.object({
  ...serviceEnv(8086),
  /**
   * nak delays by delivery when a record cannot be written (Postgres down); the last one repeats
   * for ever, because Postgres is this worker's only sink and it never gives a record up.
   */
  DLQ_RETRY_BACKOFF: envDurationList('1s,5s,15s,60s').describe(
    'Delay before each redelivery of a DLQ record that could not be stored, e.g. 1s,5s,15s,60s (the last repeats)',
  ),
});
export type DlqWorkerConfig = z.infer<typeof dlqWorkerConfigSchema>;

export function loadDlqWorkerConfig(env: NodeJS.ProcessEnv = process.env): DlqWorkerConfig {
  return loadConfig(dlqWorkerConfigSchema, env, { service: 'dlq-worker' });
}
