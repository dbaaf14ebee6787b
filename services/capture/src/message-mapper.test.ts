import { createHash, createDecipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { getMediaKeys } from '@whiskeysockets/baileys';
import { describe, expect, it } from 'vitest';
import { validateEnvelope, type MessageData } from '@switchyard/schema';
import { withSeq } from './captured-event.ts';
import { mapMessage, messageEventId, type MapMessageResult } from './message-mapper.ts';
import { fixture, loadUpsertFixtures } from './test-support.ts';

const ctx = { tenant: 'acme', instance: 'sales-1', capturedAt: new Date('2026-02-01T00:00:00Z') };

function mapFirst(name: string): MapMessageResult {
  const { upsert } = fixture(name);
  const message = upsert.messages[0];
  if (!message) throw new Error(`fixture ${name} has no message`);
  return mapMessage(message, { ...ctx, upsertKind: upsert.type });
}

function mapped(name: string): {
  type: string;
  id: string;
  occurred_at: string;
  data: MessageData;
} {
  const result = mapFirst(name);
  if (!result.ok) throw new Error(`fixture ${name} was skipped: ${result.reason}`);
  return result.event;
}

describe('mapMessage', () => {
  it('maps every recorded message to a schema-valid envelope', () => {
    let count = 0;
    for (const { name, upsert } of loadUpsertFixtures().values()) {
      for (const message of upsert.messages) {
        const result = mapMessage(message, { ...ctx, upsertKind: upsert.type });
        if (!result.ok) continue;
        const validated = validateEnvelope(withSeq(result.event, 1));
        expect(validated, `${name}: ${validated.ok ? '' : validated.message}`).toMatchObject({
          ok: true,
        });
        // The envelope must survive the wire unchanged: nothing non-JSON in it.
        expect(JSON.parse(JSON.stringify(result.event))).toEqual(result.event);
        count++;
      }
    }
    expect(count).toBe(6);
  });

  it('keeps LID and phone-number addressing of a 1:1 chat and its sender', () => {
    const event = mapped('text-received-lid');
    expect(event.type).toBe('message.received');
    expect(event.data).toMatchObject({
      message_id: '3EB0A1B2C3D4E5F60001',
      chat_jid: '15551230001@s.whatsapp.net',
      chat_lid: '118407353102339@lid',
      sender_jid: '15551230001@s.whatsapp.net',
      sender_lid: '118407353102339@lid',
      from_me: false,
      push_name: 'Ana',
      upsert_kind: 'notify',
      message_type: 'conversation',
      text: 'Olá! Is my order ready?',
      timestamp: '2026-01-01T00:00:00.000Z',
    });
    expect(event.occurred_at).toBe('2026-01-01T00:00:00.000Z');
    expect(event.data.raw).toMatchObject({
      key: { remoteJidAlt: '15551230001@s.whatsapp.net', addressingMode: 'lid' },
    });
  });

  it('maps our own message to message.sent, with its Long timestamp and the quoted id', () => {
    const event = mapped('text-sent-own-device');
    expect(event.type).toBe('message.sent');
    expect(event.data).toMatchObject({
      from_me: true,
      chat_jid: '15551230001@s.whatsapp.net',
      chat_lid: '118407353102339@lid',
      message_type: 'extendedTextMessage',
      text: 'Yes, it ships today.',
      quoted_message_id: '3EB0A1B2C3D4E5F60001',
      timestamp: '2026-01-01T00:01:00.000Z',
    });
    expect(event.data.sender_jid).toBeUndefined();
    expect(event.data.raw).toMatchObject({ messageTimestamp: 1767225660 });
  });

  it('fills the sender of our own 1:1 message from the session identity when known', () => {
    const { upsert } = fixture('text-sent-own-device');
    const self = { jid: '15559990000@s.whatsapp.net', lid: '99887766554433@lid' };
    const result = mapMessage(upsert.messages[0]!, { ...ctx, self });
    expect(result.ok && result.event.data).toMatchObject({
      sender_jid: self.jid,
      sender_lid: self.lid,
    });
  });

  it('takes a group message author from participant/participantAlt and unwraps ephemeral content', () => {
    const event = mapped('group-message-participant');
    expect(event.data).toMatchObject({
      chat_jid: '120363025246125486@g.us',
      sender_jid: '15551230002@s.whatsapp.net',
      sender_lid: '204710157602887@lid',
      message_type: 'extendedTextMessage',
      text: 'Team lunch at 1pm?',
    });
    expect(event.data.chat_lid).toBeUndefined();
  });

  it('describes an image so its blob can be fetched, decrypted and verified', () => {
    const { upsert } = fixture('image-received');
    const image = upsert.messages[0]?.message?.imageMessage;
    const event = mapped('image-received');
    expect(event.data.message_type).toBe('imageMessage');
    expect(event.data.text).toBe('Receipt');
    expect(event.data.media).toEqual({
      kind: 'image',
      mimetype: 'image/png',
      file_length: 70,
      media_key: Buffer.from(image!.mediaKey!).toString('base64'),
      direct_path: image!.directPath,
      url: image!.url,
      file_sha256: Buffer.from(image!.fileSha256!).toString('base64'),
      file_enc_sha256: Buffer.from(image!.fileEncSha256!).toString('base64'),
      caption: 'Receipt',
      width: 1,
      height: 1,
    });
  });

  it('produces descriptors that really decrypt the recorded blob', async () => {
    const media = mapped('image-received').data.media!;
    const blob = readFileSync(
      new URL('../../../test/fixtures/baileys/media/image-received.enc', import.meta.url),
    );
    expect(createHash('sha256').update(blob).digest('base64')).toBe(media.file_enc_sha256);
    const { cipherKey, iv } = await getMediaKeys(Buffer.from(media.media_key!, 'base64'), 'image');
    const decipher = createDecipheriv('aes-256-cbc', cipherKey, iv);
    const plain = Buffer.concat([decipher.update(blob.subarray(0, -10)), decipher.final()]);
    expect(createHash('sha256').update(plain).digest('base64')).toBe(media.file_sha256);
    expect(plain.byteLength).toBe(media.file_length);
  });

  it('unwraps documentWithCaptionMessage into a document descriptor', () => {
    const event = mapped('document-received');
    expect(event.data.message_type).toBe('documentMessage');
    expect(event.data.text).toBe('Invoice attached');
    expect(event.data.media).toMatchObject({
      kind: 'document',
      mimetype: 'application/pdf',
      file_name: 'invoice-2026-001.pdf',
      caption: 'Invoice attached',
    });
    expect(event.data.media?.media_key).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    // `raw` is plain JSON: bytes as base64 strings, not Buffer objects.
    expect(JSON.stringify(event.data.raw)).not.toContain('"type":"Buffer"');
  });

  it('tells append from notify upserts', () => {
    expect(mapped('append-history').data.upsert_kind).toBe('append');
    expect(mapped('text-received-lid').data.upsert_kind).toBe('notify');
    // PN-only addressing: no LID to keep.
    expect(mapped('append-history').data).toMatchObject({ chat_jid: '15551230002@s.whatsapp.net' });
    expect(mapped('append-history').data.chat_lid).toBeUndefined();
  });

  it('skips protocol, stub-only and keyless messages with a reason', () => {
    const { upsert } = fixture('skipped-control');
    const reasons = upsert.messages.map((m) => {
      const result = mapMessage(m, ctx);
      return result.ok ? 'mapped' : result.reason;
    });
    expect(reasons).toEqual(['protocol', 'stub', 'missing_key']);
  });

  it('derives the same id for the same message, and a different one per direction, chat or instance', () => {
    const a = mapped('text-received-lid');
    const again = mapped('text-received-lid');
    expect(again.id).toBe(a.id);
    expect(a.id).toBe(
      messageEventId('acme', 'sales-1', '118407353102339@lid', '3EB0A1B2C3D4E5F60001', false),
    );
    expect(
      messageEventId('acme', 'sales-1', '118407353102339@lid', '3EB0A1B2C3D4E5F60001', true),
    ).not.toBe(a.id);
    expect(
      messageEventId('acme', 'sales-2', '118407353102339@lid', '3EB0A1B2C3D4E5F60001', false),
    ).not.toBe(a.id);
  });
});
