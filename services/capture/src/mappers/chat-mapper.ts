import type { Chat, ChatUpdate } from '@whiskeysockets/baileys';
import type { EventData } from '@switchyard/schema';
import { toRawJson } from '../raw-message.ts';
import { readLong, readString, readUint, readUnixSecondsAsIso } from '../wa-readers.ts';
import { addressOf } from './address.ts';
import { contentHash } from './content-hash.ts';
import { eventIdOf, randomEventId } from './event-ids.ts';
import { makeEvent, setIf, type MapContext, type MapSink } from './map-context.ts';
import { readBool, readInt } from './readers.ts';

type ChatData = EventData<'chat.upserted'>;

/**
 * Left out of `raw`: history messages (they come as `history.messages`), the update's
 * `conditional` callback, and the privacy tokens and identity key WhatsApp keeps per chat —
 * secrets of the session, not facts about the chat.
 */
const RAW_OMIT = new Set(['messages', 'conditional', 'tcToken', 'contactPrimaryIdentityKey']);

/** A chat or chat update as event data; undefined without an id. */
export function chatData(chat: ChatUpdate | Chat): ChatData | undefined {
  const id = readString(chat.id);
  if (id === undefined) return undefined;
  const address = addressOf(id, chat.pnJid, chat.lidJid);
  const data: ChatData = { chat_jid: address.jid ?? id };
  setIf(data, 'chat_lid', address.lid);
  setIf(data, 'name', (readString(chat.name) ?? readString(chat.displayName))?.slice(0, 1024));
  setIf(data, 'unread_count', chat.unreadCount === null ? null : readInt(chat.unreadCount));
  setIf(data, 'archived', readBool(chat.archived));
  // Baileys sets `pinned` to the pin time, and null when unpinned.
  if (chat.pinned === null) data.pinned = false;
  else if (chat.pinned !== undefined) data.pinned = (readLong(chat.pinned) ?? 0) > 0;
  setIf(data, 'mute_end_time', chat.muteEndTime === null ? null : readInt(chat.muteEndTime));
  setIf(data, 'read_only', readBool(chat.readOnly));
  setIf(data, 'marked_as_unread', readBool(chat.markedAsUnread));
  setIf(
    data,
    'ephemeral_expiration',
    chat.ephemeralExpiration === null ? null : readUint(chat.ephemeralExpiration),
  );
  setIf(data, 'last_message_at', readUnixSecondsAsIso(chat.conversationTimestamp));
  setIf(data, 'last_message_received_at', readUnixSecondsAsIso(chat.lastMessageRecvTimestamp));
  setIf(data, 'description', readString(chat.description));
  data.raw = toRawJson(
    Object.fromEntries(Object.entries(chat).filter(([field]) => !RAW_OMIT.has(field))),
  );
  return data;
}

/** `chats.upsert`: a snapshot — id: chat + content hash (event-ids.ts). */
export function mapChatUpserts(chats: Chat[], ctx: MapContext, sink: MapSink): void {
  for (const chat of chats) {
    const data = chatData(chat);
    if (!data) {
      sink.skip('missing_key', 'chat without id');
      continue;
    }
    const id = eventIdOf(ctx, 'chat.upserted', data.chat_jid, contentHash(data));
    sink.emit(makeEvent(ctx, 'chat.upserted', id, undefined, data));
  }
}

/** `chats.update`: a delta with no occurrence key — random id, identical repeats collapsed. */
export function mapChatUpdates(updates: ChatUpdate[], ctx: MapContext, sink: MapSink): void {
  for (const update of updates) {
    const data = chatData(update);
    if (!data) {
      sink.skip('missing_key', 'chat update without id');
      continue;
    }
    if (ctx.lastState?.changed(`chat:${data.chat_jid}`, contentHash(data)) === false) {
      sink.skip('repeated_update', 'chat update identical to the previous one');
      continue;
    }
    sink.emit(makeEvent(ctx, 'chat.updated', randomEventId(), undefined, data));
  }
}

/** `chats.delete`: a chat can be deleted again after new messages, so random ids. */
export function mapChatDeletes(ids: string[], ctx: MapContext, sink: MapSink): void {
  for (const jid of ids) {
    const address = addressOf(jid);
    if (address.jid === undefined) {
      sink.skip('missing_key', 'chat delete without id');
      continue;
    }
    const data: EventData<'chat.deleted'> = { chat_jid: address.jid };
    setIf(data, 'chat_lid', address.lid);
    sink.emit(makeEvent(ctx, 'chat.deleted', randomEventId(), undefined, data));
  }
}
