import { newEventId } from '@switchyard/schema';

/** A valid tenant-published message.received envelope. */
export function messageReceived(tenant: string, instance: string, seq: number, text = `hello ${seq}`) {
  const now = new Date().toISOString();
  return {
    id: newEventId(),
    tenant,
    instance,
    type: 'message.received' as const,
    schema_version: 1 as const,
    occurred_at: now,
    captured_at: now,
    seq,
    source: 'tenant' as const,
    data: {
      message_id: `msg-${seq}-${Math.random().toString(36).slice(2, 8)}`,
      chat_jid: '5511999990000@s.whatsapp.net',
      from_me: false,
      timestamp: now,
      message_type: 'conversation',
      text,
    },
  };
}

export const utf8 = (value: unknown): Uint8Array => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
