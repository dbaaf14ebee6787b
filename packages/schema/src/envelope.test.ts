import { describe, expect, it } from 'vitest';
import { encodeEnvelope, parseEnvelope, validateEnvelope } from './envelope.ts';

function messageReceived(overrides: Partial<Record<string, unknown>> = {}): Record<string, unknown> {
  return {
    id: 'evt-1',
    tenant: 'acme',
    instance: 'phone-1',
    type: 'message.received',
    schema_version: 1,
    occurred_at: '2026-11-23T10:00:00.000Z',
    captured_at: '2026-11-23T10:00:00.100Z',
    seq: 7,
    source: 'baileys',
    data: {
      message_id: 'ABC123',
      chat_jid: '5511999999999@s.whatsapp.net',
      chat_lid: '123456789@lid',
      from_me: false,
      timestamp: '2026-11-23T10:00:00.000Z',
      message_type: 'conversation',
      text: 'hello',
    },
    ...overrides,
  };
}

const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe('parseEnvelope', () => {
  it('accepts a valid message.received and keeps every field', () => {
    const result = parseEnvelope(bytes(messageReceived()));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.event.type).toBe('message.received');
    expect(result.event.seq).toBe(7);
    if (result.event.type === 'message.received') {
      expect(result.event.data.chat_lid).toBe('123456789@lid');
      expect(result.event.data.text).toBe('hello');
    }
  });

  it('round-trips through encodeEnvelope', () => {
    const first = validateEnvelope(messageReceived());
    if (!first.ok) throw new Error(first.message);
    const again = parseEnvelope(encodeEnvelope(first.event));
    expect(again).toEqual(first);
  });

  it('refuses malformed JSON and invalid UTF-8 as MALFORMED_JSON', () => {
    expect(parseEnvelope(new TextEncoder().encode('{"id": '))).toMatchObject({ ok: false, code: 'MALFORMED_JSON' });
    expect(parseEnvelope(new Uint8Array([0x7b, 0xff, 0x7d]))).toMatchObject({ ok: false, code: 'MALFORMED_JSON' });
  });

  it('refuses an unknown type as UNKNOWN_TYPE', () => {
    const result = parseEnvelope(bytes(messageReceived({ type: 'message.teleported' })));
    expect(result).toMatchObject({ ok: false, code: 'UNKNOWN_TYPE' });
  });

  it('names the failing field for SCHEMA_INVALID', () => {
    const result = parseEnvelope(bytes(messageReceived({ tenant: 'Not A Tenant' })));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe('SCHEMA_INVALID');
    expect(result.message).toContain('tenant');
  });

  it('checks the data payload against the type', () => {
    const event = messageReceived({ data: { message_id: 'x' } });
    const result = validateEnvelope(event);
    expect(result).toMatchObject({ ok: false, code: 'SCHEMA_INVALID' });
  });

  it('refuses a wrong schema_version and a negative seq', () => {
    expect(validateEnvelope(messageReceived({ schema_version: 2 })).ok).toBe(false);
    expect(validateEnvelope(messageReceived({ seq: -1 })).ok).toBe(false);
  });

  it('accepts a tenant-published event without seq', () => {
    const { seq: _seq, ...rest } = messageReceived({ source: 'tenant' });
    const result = validateEnvelope(rest);
    expect(result.ok).toBe(true);
    if (result.ok) expect((result.event).seq).toBeUndefined();
  });
});
