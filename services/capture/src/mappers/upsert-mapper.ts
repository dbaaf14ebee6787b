import { normalizeMessageContent, proto, type WAMessage } from '@whiskeysockets/baileys';
import { mapMessage, type UpsertKind } from '../message-mapper.ts';
import { readLong, readString, readUnixSecondsAsIso } from '../wa-readers.ts';
import { editEvent, revokeEvent } from './edit-delete-mapper.ts';
import type { MapContext, MapSink } from './map-context.ts';
import { reactionEvent } from './reaction-mapper.ts';
import { receiptEvent, receiptTypeOfStatus, userReceiptEvents } from './receipt-mapper.ts';

const ProtocolType = proto.Message.ProtocolMessage.Type;

/**
 * One message of a `messages.upsert`. Content messages become message.received/sent
 * (message-mapper.ts); a REVOKE or MESSAGE_EDIT protocol message becomes message.deleted /
 * message.edited; a reaction message becomes message.reaction (not a message: WhatsApp shows it
 * on the target). Other protocol messages (history-sync and app-state key notifications,
 * ephemeral settings) are control traffic and are skipped.
 *
 * Then what Baileys' buffer folded into the message: when a status change, a group member's
 * receipt or a reaction for a message arrives in the same flush as the message, Baileys merges
 * it into the message (`status`, `userReceipt`, `reactions`) instead of emitting it. Those
 * become their own events here, with the ids they would have had as separate Baileys events.
 */
export function mapUpsertedMessage(
  message: WAMessage,
  upsertKind: UpsertKind,
  ctx: MapContext,
  sink: MapSink,
): void {
  const key = message.key;
  const content = normalizeMessageContent(message.message);
  const hasKey = readString(key.id) !== undefined && readString(key.remoteJid) !== undefined;
  if (hasKey && content?.protocolMessage) {
    mapProtocolMessage(message, content.protocolMessage, ctx, sink);
  } else if (hasKey && content?.reactionMessage) {
    const target = content.reactionMessage.key;
    const event = target ? reactionEvent(ctx, target, { ...content.reactionMessage, key }) : undefined;
    if (event) sink.emit(event);
    else sink.skip('missing_key', 'reaction without a target key');
  } else {
    const result = mapMessage(message, { ...ctx, upsertKind });
    if (result.ok) sink.emit(result.event);
    else sink.skip(result.reason, result.detail);
  }
  mapFolded(message, ctx, sink);
}

function mapProtocolMessage(
  message: WAMessage,
  protocol: proto.Message.IProtocolMessage,
  ctx: MapContext,
  sink: MapSink,
): void {
  const targetId = readString(protocol.key?.id);
  const type = protocol.type ?? undefined;
  if ((type === ProtocolType.REVOKE || type === ProtocolType.MESSAGE_EDIT) && targetId === undefined) {
    sink.skip('missing_key', `protocol message type ${type} without the target key`);
    return;
  }
  if (type === ProtocolType.REVOKE && targetId !== undefined) {
    const event = revokeEvent(ctx, {
      revokeKey: message.key,
      targetId,
      timestamp: readUnixSecondsAsIso(message.messageTimestamp),
      raw: message,
    });
    if (event) sink.emit(event);
  } else if (type === ProtocolType.MESSAGE_EDIT && targetId !== undefined) {
    // Baileys' derived update uses the same rounding (process-message.ts), so both agree.
    const ms = readLong(protocol.timestampMs);
    const editedAtSeconds =
      ms !== undefined && ms > 0 ? Math.floor(ms / 1000) : readLong(message.messageTimestamp);
    const event = editEvent(ctx, {
      editKey: message.key,
      targetId,
      editedAtSeconds,
      content: protocol.editedMessage,
      raw: message,
    });
    if (event) sink.emit(event);
  } else {
    sink.skip('protocol', `protocol message type ${type ?? 'unknown'}`);
  }
}

function mapFolded(message: WAMessage, ctx: MapContext, sink: MapSink): void {
  const status = receiptTypeOfStatus(message.status);
  if (status) {
    const event = receiptEvent(ctx, status, message.key, undefined, undefined);
    if (event) sink.emit(event);
  }
  for (const receipt of message.userReceipt ?? []) {
    for (const event of userReceiptEvents(ctx, message.key, receipt)) sink.emit(event);
  }
  for (const reaction of message.reactions ?? []) {
    const event = reactionEvent(ctx, message.key, reaction);
    if (event) sink.emit(event);
  }
}
