import { afterAll, describe, expect, it } from 'vitest';
import { createPool } from '@switchyard/db';
import { createMetricsRegistry } from '@switchyard/runtime';
import { newEventId } from '@switchyard/schema';
import { randomTenantId, testLogger } from '@switchyard/testing';
import { mediaMetrics } from './metrics.ts';
import { recordMediaJobs } from './record-media-jobs.ts';

describe('recordMediaJobs', () => {
  // Nothing listens on port 1: every query fails the way it does while Postgres is down.
  const unreachable = createPool({ url: 'postgres://postgres@127.0.0.1:1/switchyard', connectionTimeoutMs: 1_000 });
  afterAll(() => unreachable.end());

  it('asks for a retry, not a dead-letter, while Postgres is unreachable', async () => {
    const tenant = randomTenantId();
    const handler = recordMediaJobs({ pool: unreachable, logger: testLogger('media'), metrics: mediaMetrics(createMetricsRegistry('media')) });
    const event = {
      id: newEventId(),
      tenant,
      instance: 'phone-1',
      type: 'message.received',
      schema_version: 1,
      occurred_at: '2026-11-23T10:00:00.000Z',
      captured_at: '2026-11-23T10:00:00.100Z',
      source: 'baileys',
      data: {
        message_id: 'ABC',
        chat_jid: '5511999999999@s.whatsapp.net',
        from_me: false,
        timestamp: '2026-11-23T10:00:00.000Z',
        message_type: 'imageMessage',
        media: { kind: 'image' },
      },
    };
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
  });
});
