import type { BaileysEventMap } from '@whiskeysockets/baileys';
import type { EventData } from '@switchyard/schema';
import { readString, readUint } from '../wa-readers.ts';
import { addressOf } from './address.ts';
import { contentHash } from './content-hash.ts';
import { eventIdOf, randomEventId } from './event-ids.ts';
import { makeEvent, setIf, type MapContext, type MapSink } from './map-context.ts';

/** `labels.edit`: the whole label, a snapshot — id: label id + content hash. */
export function mapLabelEdit(label: BaileysEventMap['labels.edit'], ctx: MapContext, sink: MapSink): void {
  const labelId = readString(label.id);
  if (labelId === undefined) {
    sink.skip('missing_key', 'label without id');
    return;
  }
  const data: EventData<'label.edited'> = { label_id: labelId, deleted: label.deleted === true };
  setIf(data, 'name', readString(label.name)?.slice(0, 1024));
  setIf(data, 'color', readUint(label.color));
  setIf(data, 'predefined_id', readString(label.predefinedId));
  const id = eventIdOf(ctx, 'label.edited', labelId, contentHash(data));
  sink.emit(makeEvent(ctx, 'label.edited', id, undefined, data));
}

/** `labels.association`: a toggle (on, off, on again) with no time — random ids. */
export function mapLabelAssociation(
  { association, type }: BaileysEventMap['labels.association'],
  ctx: MapContext,
  sink: MapSink,
): void {
  const labelId = readString(association.labelId);
  const chat = addressOf(association.chatId);
  if (labelId === undefined || chat.jid === undefined) {
    sink.skip('missing_key', 'label association without label or chat');
    return;
  }
  // A message association (`label_message`) is the one that names a message.
  const onMessage = 'messageId' in association;
  const data: EventData<'label.associated'> = {
    label_id: labelId,
    target: onMessage ? 'message' : 'chat',
    chat_jid: chat.jid,
  };
  setIf(data, 'chat_lid', chat.lid);
  if ('messageId' in association) setIf(data, 'message_id', readString(association.messageId));
  const eventType = type === 'add' ? 'label.associated' : 'label.dissociated';
  sink.emit(makeEvent(ctx, eventType, randomEventId(), undefined, data));
}
