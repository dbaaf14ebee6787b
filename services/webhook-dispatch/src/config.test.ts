import { describe, expect, it } from 'vitest';
import { ConfigError } from '@switchyard/runtime';
import { loadWebhookDispatchConfig, webhookMaxDeliver } from './config.ts';
import { retryDelay } from './retry-policy.ts';

describe('webhook-dispatch config', () => {
  it('defaults to the documented schedule, a 5 s endpoint cache and port 8085', () => {
    const config = loadWebhookDispatchConfig({});
    expect(config.HTTP_PORT).toBe(8085);
    expect(config.WEBHOOK_ENDPOINT_CACHE_TTL).toBe(5_000);
    expect(config.WEBHOOK_RETRY_DELAYS).toEqual([0, 10_000, 30_000, 120_000, 300_000, 900_000]);
    expect(webhookMaxDeliver(config)).toBe(7);
  });

  it('names the variable that is wrong', () => {
    expect(() => loadWebhookDispatchConfig({ WEBHOOK_RETRY_DELAYS: '10s,soon' })).toThrow(ConfigError);
    expect(() => loadWebhookDispatchConfig({ WEBHOOK_RETRY_DELAYS: '10s,soon' })).toThrow(/WEBHOOK_RETRY_DELAYS/);
  });
});

describe('retryDelay', () => {
  const schedule = [0, 10_000, 30_000];
  it('waits the n-th delay after the n-th failed delivery, repeating the last', () => {
    expect([1, 2, 3, 4].map((delivery) => retryDelay(schedule, delivery))).toEqual([0, 10_000, 30_000, 30_000]);
    expect(retryDelay([], 1)).toBe(0);
  });
});
