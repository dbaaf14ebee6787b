import type { JetStreamClient } from 'nats';
import { afterAll, describe, expect, it } from 'vitest';
import { createPool } from '@switchyard/db';
import { createMetricsRegistry } from '@switchyard/runtime';
import { randomTenantId, testLogger } from '@switchyard/testing';
import { mediaMetrics } from './metrics.ts';
import { messageEvent } from './test-support.ts';
import { handleMediaEvents } from './media-events.ts';

describe('handleMediaEvents', () => {
  // Nothing listens on port 1: every query fails the way it does while Postgres is down.
  const unreachable = createPool({ url: 'postgres://postgres@127.0.0.1:1/switchyard', connectionTimeoutMs: 1_000 });
  afterAll(() => unreachable.end());

  it('asks for a retry, not a dead-letter, while Postgres is unreachable, and fetches nothing', async () => {
    const tenant = randomTenantId();
    let downloads = 0;
    const handler = handleMediaEvents({
      pool: unreachable,
      // Never reached: without its job row there is nothing to download for.
      js: undefined as unknown as JetStreamClient,
      logger: testLogger('media'),
      metrics: mediaMetrics(createMetricsRegistry('media')),
      download: () => {
        downloads += 1;
        return Promise.reject(new Error('unexpected download'));
      },
    });
    const event = messageEvent(tenant, { message_id: 'ABC', message_type: 'imageMessage', media: { kind: 'image' } });
    const outcome = await handler({
      subject: `v1.events.${tenant}.phone-1.message.received`,
      data: new TextEncoder().encode(JSON.stringify(event)),
      headers: {},
      deliveryCount: 1,
      storedAtMs: Date.now(),
      streamSeq: 1,
      tenant,
    });
    expect(outcome.kind).toBe('retry');
    expect(outcome.kind === 'retry' ? outcome.error : '').toContain('postgres unavailable');
    expect(downloads).toBe(0);
  });
});
