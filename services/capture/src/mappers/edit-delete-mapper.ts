import {
  getContentType,
  normalizeMessageContent,
  type proto,
  type WAMessageKey,
} from '@whiskeysockets/baileys';
import type { EventData } from '@switchyard/schema';
import type { UnsequencedEvent } from '../captured-event.ts';
import { splitAddress, type SplitAddress } from '../jid-addressing.ts';
import { mediaDescriptor } from '../media-descriptor.ts';
import { textOf } from '../message-mapper.ts';
import { toRawJson } from '../raw-message.ts';
import { readString, readUnixSecondsAsIso } from '../wa-readers.ts';
import { contentHash } from './content-hash.ts';
import { eventIdOf, randomEventId } from './event-ids.ts';
import { makeEvent, setIf, type MapContext } from './map-context.ts';

/**
 * A revoke ("delete for everyone"), from either place Baileys reports it: the REVOKE protocol
 * message upserted, or the `messages.update` it derives (`key` = the revoke's key with the
 * revoked id; `update.key` = the revoke's own key). Both give the chat and the revoked id, which
 * make the id, so one revoke is one event.
 */
export interface RevokeSource {
  /** The revoke message's key: chat, and who revoked (fromMe, participant). */
  revokeKey: WAMessageKey;
  targetId: string;
  timestamp: string | undefined;
  raw: object;
}

export function revokeEvent(ctx: MapContext, source: RevokeSource): UnsequencedEvent | undefined {
  const { revokeKey, targetId } = source;
  const remoteJid = readString(revokeKey.remoteJid);
  if (remoteJid === undefined) return undefined;
  const chat = splitAddress(remoteJid, revokeKey.remoteJidAlt);
  const byMe = revokeKey.fromMe === true;
  const data: EventData<'message.deleted'> = {
    scope: 'everyone',
    message_id: targetId,
    chat_jid: chat.jid ?? remoteJid,
    deleted_by_me: byMe,
    timestamp: source.timestamp ?? ctx.capturedAt.toISOString(),
    raw: toRawJson(source.raw),
  };
  setIf(data, 'chat_lid', chat.lid);
  const by = authorOf(revokeKey, byMe, ctx);
  setIf(data, 'deleted_by_jid', by.jid);
  setIf(data, 'deleted_by_lid', by.lid);
  setIf(data, 'revoke_message_id', readString(revokeKey.id));
  const id = eventIdOf(ctx, 'message.deleted', remoteJid, targetId, 'everyone');
  return makeEvent(ctx, 'message.deleted', id, data.timestamp, data);
}

/**
 * An edit, from the MESSAGE_EDIT protocol message upserted or the `messages.update` Baileys
 * derives from it. Both carry the chat, the edited id, the edit time (Baileys rounds the
 * protocol message's `timestampMs` to seconds for the update) and the new content — the id's
 * parts, so one edit is one event, and editing twice is two.
 */
export interface EditSource {
  /** The edit's key: chat and author (the edit's own id, when known). */
  editKey: WAMessageKey;
  targetId: string;
  editedAtSeconds: number | undefined;
  content: proto.IMessage | null | undefined;
  raw: object;
}

export function editEvent(ctx: MapContext, source: EditSource): UnsequencedEvent | undefined {
  const { editKey, targetId } = source;
  const remoteJid = readString(editKey.remoteJid);
  if (remoteJid === undefined) return undefined;
  const chat = splitAddress(remoteJid, editKey.remoteJidAlt);
  const fromMe = editKey.fromMe === true;
  const timestamp = readUnixSecondsAsIso(source.editedAtSeconds) ?? ctx.capturedAt.toISOString();
  const data: EventData<'message.edited'> = {
    message_id: targetId,
    chat_jid: chat.jid ?? remoteJid,
    from_me: fromMe,
    timestamp,
    raw: toRawJson(source.raw),
  };
  setIf(data, 'chat_lid', chat.lid);
  const sender = authorOf(editKey, fromMe, ctx);
  setIf(data, 'sender_jid', sender.jid);
  setIf(data, 'sender_lid', sender.lid);
  const editId = readString(editKey.id);
  if (editId !== targetId) setIf(data, 'edit_message_id', editId);
  const content = normalizeMessageContent(source.content);
  if (content) {
    setIf(data, 'message_type', getContentType(content));
    setIf(data, 'text', textOf(content));
    setIf(data, 'media', mediaDescriptor(content));
  }
  const id = eventIdOf(
    ctx,
    'message.edited',
    remoteJid,
    targetId,
    String(source.editedAtSeconds ?? ''),
    contentHash(source.content ?? {}),
  );
  return makeEvent(ctx, 'message.edited', id, timestamp, data);
}

/**
 * `messages.delete`: messages deleted on this account's devices only ("delete for me", from
 * app-state sync), or a whole chat cleared (`{ jid, all: true }`). A message is deleted for me
 * once, so its key makes the id; clearing a chat has no key and can recur, so it gets a random one.
 */
export function deletedForMeEvent(ctx: MapContext, key: WAMessageKey): UnsequencedEvent | undefined {
  const messageId = readString(key.id);
  const remoteJid = readString(key.remoteJid);
  if (messageId === undefined || remoteJid === undefined) return undefined;
  const chat = splitAddress(remoteJid, key.remoteJidAlt);
  const fromMe = key.fromMe === true;
  const data: EventData<'message.deleted'> = {
    scope: 'me',
    message_id: messageId,
    chat_jid: chat.jid ?? remoteJid,
    from_me: fromMe,
    deleted_by_me: true,
    timestamp: ctx.capturedAt.toISOString(),
  };
  setIf(data, 'chat_lid', chat.lid);
  const id = eventIdOf(ctx, 'message.deleted', remoteJid, messageId, String(fromMe), 'me');
  return makeEvent(ctx, 'message.deleted', id, undefined, data);
}

export function chatClearedEvent(ctx: MapContext, jid: string): UnsequencedEvent {
  const chat = splitAddress(jid, undefined);
  const data: EventData<'message.deleted'> = {
    scope: 'me',
    chat_jid: chat.jid ?? jid,
    all_in_chat: true,
    deleted_by_me: true,
    timestamp: ctx.capturedAt.toISOString(),
  };
  setIf(data, 'chat_lid', chat.lid);
  return makeEvent(ctx, 'message.deleted', randomEventId(), undefined, data);
}

/** Groups name the actor in `participant`; a 1:1 actor is the chat, or this account. */
function authorOf(key: WAMessageKey, fromMe: boolean, ctx: MapContext): SplitAddress {
  if (readString(key.participant) !== undefined) return splitAddress(key.participant, key.participantAlt);
  if (fromMe) return splitAddress(ctx.self?.jid, ctx.self?.lid);
  return splitAddress(key.remoteJid, key.remoteJidAlt);
}
