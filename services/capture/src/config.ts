import { z } from 'zod';
import { envDuration, loadConfig } from '@switchyard/runtime';
import { serviceEnv } from '@switchyard/service';

export const captureConfigSchema = z
  .object({
    ...serviceEnv(8081),
    /** How long one INGEST publish waits for its PubAck before it counts as failed and is retried. */
    CAPTURE_PUBLISH_TIMEOUT: envDuration('5s').describe('PubAck wait per INGEST publish attempt'),
    /** First delay after a failed publish or seq allocation; doubles per attempt. */
    CAPTURE_RETRY_INITIAL: envDuration('100ms').describe(
      'First backoff after a failed INGEST publish',
    ),
    /** Ceiling of the retry backoff; failed publishes keep retrying at this pace, never dropped. */
    CAPTURE_RETRY_MAX: envDuration('5s').describe('Longest backoff between INGEST publish retries'),
  })
  .superRefine((config, ctx) => {
    if (config.CAPTURE_RETRY_INITIAL > config.CAPTURE_RETRY_MAX) {
      ctx.addIssue({
        code: 'custom',
        path: ['CAPTURE_RETRY_INITIAL'],
        message: 'must not exceed CAPTURE_RETRY_MAX',
      });
    }
  });
export type CaptureConfig = z.infer<typeof captureConfigSchema>;

export function loadCaptureConfig(env: NodeJS.ProcessEnv = process.env): CaptureConfig {
  return loadConfig(captureConfigSchema, env, { service: 'capture' });
}
