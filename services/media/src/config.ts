import { z } from 'zod';
import { envInt, loadConfig } from '@switchyard/runtime';
import { serviceEnv } from '@switchyard/service';

export const mediaConfigSchema = z.object({
  ...serviceEnv(8084),
  /** Deliveries of one EVENTS message before it is dead-lettered (Postgres or handler trouble). */
  MEDIA_MAX_DELIVER: envInt({ min: 1, max: 100, default: 5 }).describe('Deliveries before an EVENTS message is dead-lettered by media'),
  /**
   * EVENTS messages handled at once per tenant. Media jobs are idempotent inserts keyed by the
   * event, so they need no order, and most events carry no media (acked at once): a window keeps
   * media from trailing the pipeline one round trip per event.
   */
  MEDIA_CONCURRENCY: envInt({ min: 1, max: 1000, default: 64 }).describe('EVENTS messages handled at once per tenant by media'),
});
export type MediaConfig = z.infer<typeof mediaConfigSchema>;

export function loadMediaConfig(env: NodeJS.ProcessEnv = process.env): MediaConfig {
  return loadConfig(mediaConfigSchema, env, { service: 'media' });
}
