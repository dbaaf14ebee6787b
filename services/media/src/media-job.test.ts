import { describe, expect, it } from 'vitest';
import { validateEnvelope, type EventEnvelope } from '@switchyard/schema';
import { mediaJobFor } from './media-job.ts';

function envelope(type: string, data: Record<string, unknown>): EventEnvelope {
  const result = validateEnvelope({
    id: 'evt-1',
    tenant: 'acme',
    instance: 'phone-1',
    type,
    schema_version: 1,
    occurred_at: '2026-11-23T10:00:00.000Z',
    captured_at: '2026-11-23T10:00:00.100Z',
    source: 'baileys',
    data,
  });
  if (!result.ok) throw new Error(result.message);
  return result.event;
}

const message = {
  message_id: 'ABC',
  chat_jid: '5511999999999@s.whatsapp.net',
  from_me: false,
  timestamp: '2026-11-23T10:00:00.000Z',
  message_type: 'imageMessage',
};
const image = { kind: 'image', mimetype: 'image/jpeg', media_key: 'AAEC', direct_path: '/v/t62/abc' };

describe('mediaJobFor', () => {
  it('builds a job from a received or sent message with a media descriptor', () => {
    for (const type of ['message.received', 'message.sent']) {
      expect(mediaJobFor(envelope(type, { ...message, media: image }))).toEqual({
        eventId: 'evt-1',
        messageId: 'ABC',
        instance: 'phone-1',
        kind: 'image',
        descriptor: image,
        occurredAt: '2026-11-23T10:00:00.000Z',
      });
    }
  });

  it('asks for nothing when the message has no media', () => {
    expect(mediaJobFor(envelope('message.received', { ...message, message_type: 'conversation', text: 'hi' }))).toBeUndefined();
  });

  it('asks for nothing for types that do not bear media', () => {
    const receipt = { message_id: 'ABC', chat_jid: message.chat_jid, timestamp: message.timestamp };
    expect(mediaJobFor(envelope('message.read', receipt))).toBeUndefined();
  });
});
