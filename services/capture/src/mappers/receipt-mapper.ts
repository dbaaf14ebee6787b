import { proto, type WAMessageKey } from '@whiskeysockets/baileys';
import type { EventData } from '@switchyard/schema';
import type { UnsequencedEvent } from '../captured-event.ts';
import { splitAddress } from '../jid-addressing.ts';
import { readString, readUint, readUnixSecondsAsIso } from '../wa-readers.ts';
import { eventIdOf } from './event-ids.ts';
import { makeEvent, setIf, type MapContext } from './map-context.ts';

export type ReceiptType = 'message.delivered' | 'message.read' | 'message.played';

const Status = proto.WebMessageInfo.Status;

/**
 * A message status as a receipt type. PENDING/SERVER_ACK are our own send progressing and ERROR a
 * failed send — not receipts from the other side — so they have none.
 */
export function receiptTypeOfStatus(status: unknown): ReceiptType | undefined {
  switch (readUint(status)) {
    case Status.DELIVERY_ACK:
      return 'message.delivered';
    case Status.READ:
      return 'message.read';
    case Status.PLAYED:
      return 'message.played';
    default:
      return undefined;
  }
}

/**
 * One receipt for one message. `participant` is who sent it — set for group and broadcast
 * receipts (one per member), absent for a 1:1 status change. Id: type, chat, message id, fromMe,
 * participant (event-ids.ts).
 */
export function receiptEvent(
  ctx: MapContext,
  type: ReceiptType,
  key: WAMessageKey,
  participant: { jid: unknown; alt?: unknown } | undefined,
  timestamp: string | undefined,
): UnsequencedEvent | undefined {
  const messageId = readString(key.id);
  const remoteJid = readString(key.remoteJid);
  if (messageId === undefined || remoteJid === undefined) return undefined;
  const chat = splitAddress(remoteJid, key.remoteJidAlt);
  const participantJid = readString(participant?.jid);
  const who = splitAddress(participantJid, readString(participant?.alt));
  const fromMe = key.fromMe === true;
  const data: EventData<ReceiptType> = {
    message_id: messageId,
    chat_jid: chat.jid ?? remoteJid,
    from_me: fromMe,
    timestamp: timestamp ?? ctx.capturedAt.toISOString(),
  };
  setIf(data, 'chat_lid', chat.lid);
  setIf(data, 'participant_jid', who.jid);
  setIf(data, 'participant_lid', who.lid);
  const id = eventIdOf(ctx, 'receipt', type, remoteJid, messageId, String(fromMe), participantJid ?? '');
  return makeEvent(ctx, type, id, data.timestamp, data);
}

/**
 * A group member's receipt (`message-receipt.update`, or `userReceipt` on a message): one event
 * per kind it carries — Baileys' buffer merges a member's delivered and read receipts into one.
 */
export function userReceiptEvents(
  ctx: MapContext,
  key: WAMessageKey,
  receipt: proto.IUserReceipt,
): UnsequencedEvent[] {
  const kinds: Array<[ReceiptType, unknown]> = [
    ['message.delivered', receipt.receiptTimestamp],
    ['message.read', receipt.readTimestamp],
    ['message.played', receipt.playedTimestamp],
  ];
  const events: UnsequencedEvent[] = [];
  for (const [type, at] of kinds) {
    const timestamp = readUnixSecondsAsIso(at);
    if (timestamp === undefined) continue;
    const event = receiptEvent(ctx, type, key, { jid: receipt.userJid }, timestamp);
    if (event) events.push(event);
  }
  return events;
}
