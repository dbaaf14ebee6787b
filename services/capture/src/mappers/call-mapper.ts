import type { WACallEvent } from '@whiskeysockets/baileys';
import type { EventData } from '@switchyard/schema';
import { readString } from '../wa-readers.ts';
import { addressOf } from './address.ts';
import { eventIdOf } from './event-ids.ts';
import { makeEvent, setIf, type MapContext, type MapSink } from './map-context.ts';
import { readBool, readDateIso } from './readers.ts';

/**
 * The call states a user acts on. `ringing`, `preaccept`, `transport` and `relaylatency` are
 * call signalling between devices, not changes a user sees, and are skipped.
 */
const CALL_EVENT = {
  offer: 'call.offered',
  accept: 'call.accepted',
  reject: 'call.rejected',
  timeout: 'call.timeout',
  terminate: 'call.terminated',
} as const;

/** One `call` update. Id: call id + status — each state happens once per call. */
export function mapCall(call: WACallEvent, ctx: MapContext, sink: MapSink): void {
  const status: string = call.status;
  if (!Object.hasOwn(CALL_EVENT, status)) {
    sink.skip('call_signal', `call status ${status}`);
    return;
  }
  const type = CALL_EVENT[status as keyof typeof CALL_EVENT];
  const callId = readString(call.id);
  const from = readString(call.from);
  const chat = addressOf(call.chatId, call.chatId === from ? call.callerPn : undefined);
  if (callId === undefined || chat.jid === undefined) {
    sink.skip('missing_key', 'call without id or chat');
    return;
  }
  const timestamp = readDateIso(call.date) ?? ctx.capturedAt.toISOString();
  const data: EventData<typeof type> = {
    call_id: callId,
    chat_jid: chat.jid,
    offline: call.offline === true,
    timestamp,
  };
  setIf(data, 'chat_lid', chat.lid);
  const caller = addressOf(from, call.callerPn);
  setIf(data, 'caller_jid', caller.jid);
  setIf(data, 'caller_lid', caller.lid);
  setIf(data, 'is_video', readBool(call.isVideo));
  setIf(data, 'is_group', readBool(call.isGroup));
  setIf(data, 'group_jid', readString(call.groupJid));
  sink.emit(makeEvent(ctx, type, eventIdOf(ctx, 'call', callId, status), timestamp, data));
}
