// Shared by this service's tests only: the real service against a private NATS and the test database.
import type { RunningService } from '@switchyard/service';
import { validateEnvelope, type EventEnvelope } from '@switchyard/schema';
import { randomName, startServiceHarness, type ServiceHarness } from '@switchyard/testing';
import { startPersistence } from './app.ts';
import { loadPersistenceConfig } from './config.ts';

export type Harness = ServiceHarness<RunningService>;

export function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  return startServiceHarness({
    service: 'persistence',
    env: { PERSISTENCE_RETRY_BACKOFF: '100ms', PERSISTENCE_MAX_DELIVER: '100', ...env },
    tenantPrefix: 'p',
    start: (serviceEnv, options) => startPersistence(loadPersistenceConfig(serviceEnv), options),
  });
}

let counter = 0;

/** A valid message.received envelope for `tenant`; fields can be overridden. */
export function messageReceived(tenant: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    id: `evt-${randomName('e')}`,
    tenant,
    instance: 'phone-1',
    type: 'message.received',
    schema_version: 1,
    occurred_at: new Date(Date.UTC(2026, 0, 1, 10, 0, counter)).toISOString(),
    captured_at: new Date(Date.UTC(2026, 0, 1, 10, 0, counter, 100)).toISOString(),
    seq: counter,
    source: 'baileys',
    data: {
      message_id: `M${counter}`,
      chat_jid: '5511999999999@s.whatsapp.net',
      chat_lid: '123456789@lid',
      from_me: false,
      timestamp: new Date(Date.UTC(2026, 0, 1, 10, 0, counter)).toISOString(),
      message_type: 'conversation',
      text: `hello ${counter}`,
    },
    ...overrides,
  };
}

export const encodeJson = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

/** A validated envelope of any type, for tests that call the store directly. */
export function envelope(tenant: string, type: string, data: Record<string, unknown>, overrides: Record<string, unknown> = {}): EventEnvelope {
  counter += 1;
  const parsed = validateEnvelope({
    id: `evt-${randomName('e')}`,
    tenant,
    instance: 'phone-1',
    type,
    schema_version: 1,
    occurred_at: new Date(Date.UTC(2026, 0, 1, 10, 0, counter)).toISOString(),
    captured_at: new Date(Date.UTC(2026, 0, 1, 10, 0, counter, 100)).toISOString(),
    seq: counter,
    source: 'baileys',
    data,
    ...overrides,
  });
  if (!parsed.ok) throw new Error(`test envelope invalid: ${parsed.message}`);
  return parsed.event;
}
