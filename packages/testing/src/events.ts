import { newEventId } from '@switchyard/schema';

/**
 * A valid `message.received` envelope as a tenant publishes it, with a fresh id. `overrides`
 * replace top-level fields, so a test can also make it invalid on purpose (another `type`, a
 * `data` that fails the schema, a foreign `tenant`).
 */
export function messageReceivedEvent(tenant: string, instance: string, seq: number, overrides: Record<string, unknown> = {}) {
  const now = new Date().toISOString();
  return {
    id: newEventId(),
    tenant,
    instance,
    type: 'message.received',
    schema_version: 1,
    occurred_at: now,
    captured_at: now,
    seq,
    source: 'tenant',
    data: {
      message_id: `m${seq}`,
      chat_jid: '1@s.whatsapp.net',
      from_me: false,
      timestamp: now,
      message_type: 'conversation',
      text: `hello ${seq}`,
    },
    ...overrides,
  };
}

/** JSON bytes of a value, as a NATS payload. */
export function encodeJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}
