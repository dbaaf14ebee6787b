import type { Endpoint } from '@switchyard/db';
import { z } from 'zod';

/** An endpoint as the API shows it: never its secrets (those are shown once, on create and rotate). */
export const endpointViewSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    event_types: z.array(z.string()).describe('Glob patterns: `*`, `message.*`, `*.deleted`'),
    enabled: z.boolean(),
    disabled_reason: z.string().nullable().describe('Why the dispatcher disabled it (e.g. the receiver answered 410)'),
    headers: z.record(z.string(), z.string()),
    timeout_ms: z.number().int(),
    retry_delays_ms: z.array(z.number().int()).nullable().describe('Own retry schedule; null: the service default'),
    max_concurrency: z.number().int().nullable(),
    rate_limit_per_second: z.number().int().nullable(),
    previous_secret_expires_at: z.iso.datetime().nullable().describe('While set and in the future, the previous secret also signs'),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .describe('A webhook endpoint');

export const endpointWithSecretSchema = endpointViewSchema.extend({
  secret: z.string().describe('The signing secret (whsec_…). Shown only now: store it.'),
});

export function toEndpointView(endpoint: Endpoint): z.infer<typeof endpointViewSchema> {
  return {
    id: endpoint.id,
    url: endpoint.url,
    event_types: endpoint.eventTypes,
    enabled: endpoint.enabled,
    disabled_reason: endpoint.disabledReason,
    headers: endpoint.headers,
    timeout_ms: endpoint.timeoutMs,
    retry_delays_ms: endpoint.retryDelaysMs,
    max_concurrency: endpoint.maxConcurrency,
    rate_limit_per_second: endpoint.rateLimitPerSecond,
    previous_secret_expires_at: endpoint.previousSecretExpiresAt?.toISOString() ?? null,
    created_at: endpoint.createdAt.toISOString(),
    updated_at: endpoint.updatedAt.toISOString(),
  };
}

const settings = {
  event_types: z.array(z.string().min(1).max(200)).min(1).max(100),
  headers: z.record(z.string(), z.string().max(4096)),
  timeout_ms: z.number().int().min(100).max(60_000),
  retry_delays_ms: z.array(z.number().int().min(0).max(86_400_000)).max(99).nullable(),
  max_concurrency: z.number().int().min(1).max(1000).nullable(),
  rate_limit_per_second: z.number().int().min(1).max(100_000).nullable(),
  enabled: z.boolean(),
};

export const createEndpointSchema = z.object({ url: z.url().max(2048), ...settings }).partial().required({ url: true });
export const updateEndpointSchema = z.object({ url: z.url().max(2048), ...settings }).partial();

type EndpointBody = z.infer<typeof updateEndpointSchema>;

/** API field names → the db package's input (undefined fields stay out). */
export function toEndpointInput(body: EndpointBody) {
  return {
    ...(body.url !== undefined ? { url: body.url } : {}),
    ...(body.event_types !== undefined ? { eventTypes: body.event_types } : {}),
    ...(body.headers !== undefined ? { headers: body.headers } : {}),
    ...(body.timeout_ms !== undefined ? { timeoutMs: body.timeout_ms } : {}),
    ...(body.retry_delays_ms !== undefined ? { retryDelaysMs: body.retry_delays_ms } : {}),
    ...(body.max_concurrency !== undefined ? { maxConcurrency: body.max_concurrency } : {}),
    ...(body.rate_limit_per_second !== undefined ? { rateLimitPerSecond: body.rate_limit_per_second } : {}),
    ...(body.enabled !== undefined ? { enabled: body.enabled } : {}),
  };
}
