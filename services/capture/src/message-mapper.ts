import {
  getContentType,
  normalizeMessageContent,
  type proto,
  type WAMessage,
} from '@whiskeysockets/baileys';
import { deriveEventId, SCHEMA_VERSION, type MessageData } from '@switchyard/schema';
import type { SelfIdentity, UnsequencedEvent } from './captured-event.ts';
import { splitAddress, type SplitAddress } from './jid-addressing.ts';
import { mediaDescriptor } from './media-descriptor.ts';
import { toRawJson } from './raw-message.ts';
import { isRecord, readString, readUint, readUnixSecondsAsIso } from './wa-readers.ts';

export type UpsertKind = 'notify' | 'append';

export interface MessageContext {
  tenant: string;
  instance: string;
  /** The `type` of the `messages.upsert` batch the message came in. */
  upsertKind?: UpsertKind | undefined;
  /** Defaults to now; also the fallback `occurred_at` for a message without a timestamp. */
  capturedAt?: Date | undefined;
  /** Fills `sender_*` of our own 1:1 messages, whose key names only the chat. */
  self?: SelfIdentity | undefined;
}

/**
 * Why a message produced no event. None of these is an error; each is logged at debug and counted.
 * - `missing_key`: no `key.id` or `key.remoteJid` — nothing to derive a stable id from.
 * - `stub`: a stub-only record (group participant changes, call logs, E2E notices…) with no
 *   content; these become group/call events when the schema has those types.
 * - `protocol`: a `protocolMessage` (revoke, edit, ephemeral setting, history-sync and app-state
 *   key notifications): control traffic, not a message; revokes and edits map to
 *   message.deleted/message.edited once the schema defines them.
 * - `no_content`: no content key at all (e.g. only a senderKeyDistributionMessage).
 */
export type SkipReason = 'missing_key' | 'stub' | 'protocol' | 'no_content';

export type MessageEventType = 'message.received' | 'message.sent';

export type MapMessageResult =
  | { ok: true; event: Extract<UnsequencedEvent, { type: MessageEventType }> }
  | { ok: false; reason: SkipReason; detail: string };

/** The id of a message event: the same WhatsApp message always gets the same id, whoever captures it. */
export function messageEventId(
  tenant: string,
  instance: string,
  remoteJid: string,
  messageId: string,
  fromMe: boolean,
): string {
  return deriveEventId(tenant, instance, 'message', remoteJid, messageId, String(fromMe));
}

/** One Baileys WAMessage → a `message.received` (from others) or `message.sent` (from this account) event. */
export function mapMessage(message: WAMessage, ctx: MessageContext): MapMessageResult {
  const key = message.key;
  const messageId = readString(key.id);
  const remoteJid = readString(key.remoteJid);
  if (messageId === undefined || remoteJid === undefined) {
    return {
      ok: false,
      reason: 'missing_key',
      detail: `message key without ${messageId === undefined ? 'id' : 'remoteJid'}`,
    };
  }
  const content = normalizeMessageContent(message.message);
  const messageType = content ? getContentType(content) : undefined;
  if (!content || messageType === undefined) {
    const stub = readUint(message.messageStubType);
    return stub !== undefined && stub > 0
      ? { ok: false, reason: 'stub', detail: `stub type ${stub}` }
      : { ok: false, reason: 'no_content', detail: 'message has no content' };
  }
  if (messageType === 'protocolMessage') {
    return {
      ok: false,
      reason: 'protocol',
      detail: `protocol message type ${content.protocolMessage?.type ?? 'unknown'}`,
    };
  }

  const fromMe = key.fromMe === true;
  const capturedAt = (ctx.capturedAt ?? new Date()).toISOString();
  const timestamp = readUnixSecondsAsIso(message.messageTimestamp) ?? capturedAt;
  const chat = splitAddress(remoteJid, key.remoteJidAlt);
  const sender = senderOf(message, remoteJid, fromMe, ctx.self);

  const data: MessageData = {
    message_id: messageId,
    chat_jid: chat.jid ?? remoteJid,
    from_me: fromMe,
    timestamp,
    message_type: messageType,
  };
  setIf(data, 'chat_lid', chat.lid);
  setIf(data, 'sender_jid', sender.jid);
  setIf(data, 'sender_lid', sender.lid);
  setIf(data, 'push_name', readString(message.pushName)?.slice(0, 256));
  setIf(data, 'upsert_kind', ctx.upsertKind);
  setIf(data, 'text', textOf(content));
  setIf(data, 'quoted_message_id', quotedMessageId(content, messageType));
  setIf(data, 'media', mediaDescriptor(content));
  data.raw = toRawJson(message);

  const type: MessageEventType = fromMe ? 'message.sent' : 'message.received';
  return {
    ok: true,
    event: {
      id: messageEventId(ctx.tenant, ctx.instance, remoteJid, messageId, fromMe),
      tenant: ctx.tenant,
      instance: ctx.instance,
      type,
      schema_version: SCHEMA_VERSION,
      occurred_at: timestamp,
      captured_at: capturedAt,
      source: 'baileys',
      data,
    },
  };
}

/**
 * Groups and broadcasts name the author in `participant`; a 1:1 chat's author is the chat itself,
 * or — for our own messages — this account, which the key does not name.
 */
function senderOf(
  message: WAMessage,
  remoteJid: string,
  fromMe: boolean,
  self: SelfIdentity | undefined,
): SplitAddress {
  const participant = readString(message.key.participant) ?? readString(message.participant);
  if (participant !== undefined) return splitAddress(participant, message.key.participantAlt);
  if (fromMe) return splitAddress(self?.jid, self?.lid);
  return splitAddress(remoteJid, message.key.remoteJidAlt);
}

export function textOf(content: proto.IMessage): string | undefined {
  return (
    readString(content.conversation) ??
    readString(content.extendedTextMessage?.text) ??
    readString(content.imageMessage?.caption) ??
    readString(content.videoMessage?.caption) ??
    readString(content.documentMessage?.caption)
  );
}

/** Replies carry the quoted message's id in the content's `contextInfo.stanzaId`. */
function quotedMessageId(
  content: proto.IMessage,
  messageType: keyof proto.IMessage,
): string | undefined {
  const inner: unknown = content[messageType];
  if (!isRecord(inner)) return undefined;
  const contextInfo = inner['contextInfo'];
  return isRecord(contextInfo) ? readString(contextInfo['stanzaId']) : undefined;
}

function setIf<K extends keyof MessageData>(
  target: MessageData,
  key: K,
  value: MessageData[K] | undefined,
): void {
  if (value !== undefined) target[key] = value;
}
