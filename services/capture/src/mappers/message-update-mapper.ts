import { proto, type WAMessageUpdate } from '@whiskeysockets/baileys';
import { readLong, readString, readUnixSecondsAsIso } from '../wa-readers.ts';
import { editEvent, revokeEvent } from './edit-delete-mapper.ts';
import type { MapContext, MapSink } from './map-context.ts';
import { receiptEvent, receiptTypeOfStatus } from './receipt-mapper.ts';

/**
 * One `messages.update` entry. Baileys' buffer merges several updates of one message into one
 * entry, so each part it may hold is mapped: a status (→ delivered/read/played), a revoke
 * (`message: null` with stub REVOKE → message.deleted), an edit (`editedMessage` → message.edited).
 * Anything else (starred, poll votes, event responses, send errors, retry markers) has no event
 * type yet and is skipped as `update_other`.
 */
export function mapMessageUpdate(
  { key, update }: WAMessageUpdate,
  ctx: MapContext,
  sink: MapSink,
): void {
  let mapped = false;
  const status = receiptTypeOfStatus(update.status);
  if (status) {
    mapped = true;
    // A 1:1 receipt's time rides in messageTimestamp (messages-recv.ts); 0 when absent.
    const event = receiptEvent(ctx, status, key, undefined, readUnixSecondsAsIso(update.messageTimestamp));
    if (event) sink.emit(event);
  }
  const targetId = readString(key.id);
  if (update.messageStubType === proto.WebMessageInfo.StubType.REVOKE && targetId !== undefined) {
    mapped = true;
    // `update.key` is the revoke message's own key; `key` names the chat and the revoked id.
    const revokeKey = update.key ? { ...key, id: update.key.id } : { ...key, id: null };
    const event = revokeEvent(ctx, { revokeKey, targetId, timestamp: undefined, raw: { key, update } });
    if (event) sink.emit(event);
  }
  const edited = update.message?.editedMessage?.message;
  if (edited && targetId !== undefined) {
    mapped = true;
    const event = editEvent(ctx, {
      editKey: key,
      targetId,
      editedAtSeconds: readLong(update.messageTimestamp),
      content: edited,
      raw: { key, update },
    });
    if (event) sink.emit(event);
  }
  if (!mapped) sink.skip('update_other', `message update of ${Object.keys(update).join(',')}`);
}
