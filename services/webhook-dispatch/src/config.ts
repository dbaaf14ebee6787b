import { z } from 'zod';
import { envDuration, envDurationList, loadConfig } from '@switchyard/runtime';
import { serviceEnv } from '@switchyard/service';

export const webhookDispatchConfigSchema = z
  .object({
    ...serviceEnv(8085),
    /** Endpoints are re-read at most this often per tenant; an edit takes up to this long to apply. */
    WEBHOOK_ENDPOINT_CACHE_TTL: envDuration('5s').describe('How long a tenant\'s endpoint list is cached (0s disables the cache)'),
    /** The n-th entry is the wait after the n-th failed delivery; one more delivery follows the last. */
    WEBHOOK_RETRY_DELAYS: envDurationList('0s,10s,30s,2m,5m,15m').describe(
      'Waits between delivery attempts of an event; after the last one it is dead-lettered',
    ),
  })
  .superRefine((config, ctx) => {
    if (config.WEBHOOK_RETRY_DELAYS.length > 99) {
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_RETRY_DELAYS'], message: 'at most 99 retry delays' });
    }
  });
export type WebhookDispatchConfig = z.infer<typeof webhookDispatchConfigSchema>;

/** Deliveries of one event: the first one plus one per retry delay. */
export function webhookMaxDeliver(config: Pick<WebhookDispatchConfig, 'WEBHOOK_RETRY_DELAYS'>): number {
  return config.WEBHOOK_RETRY_DELAYS.length + 1;
}

export function loadWebhookDispatchConfig(env: NodeJS.ProcessEnv = process.env): WebhookDispatchConfig {
  return loadConfig(webhookDispatchConfigSchema, env, { service: 'webhook-dispatch' });
}
