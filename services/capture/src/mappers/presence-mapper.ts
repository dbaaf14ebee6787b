import type { BaileysEventMap } from '@whiskeysockets/baileys';
import type { EventData } from '@switchyard/schema';
import { readUint, readUnixSecondsAsIso } from '../wa-readers.ts';
import { addressOf } from './address.ts';
import { randomEventId } from './event-ids.ts';
import { makeEvent, setIf, type MapContext, type MapSink } from './map-context.ts';

type Presence = EventData<'presence.updated'>['presence'];
const PRESENCES = new Set<string>(['unavailable', 'available', 'composing', 'recording', 'paused']);

function isPresence(value: unknown): value is Presence {
  return typeof value === 'string' && PRESENCES.has(value);
}

/**
 * `presence.update`: one event per participant. Presence has no id or time ("composing",
 * "paused", "composing" again are all real), so random ids.
 */
export function mapPresence(
  update: BaileysEventMap['presence.update'],
  ctx: MapContext,
  sink: MapSink,
): void {
  const chat = addressOf(update.id);
  if (chat.jid === undefined) {
    sink.skip('missing_key', 'presence without chat');
    return;
  }
  for (const [participant, presence] of Object.entries(update.presences)) {
    const who = addressOf(participant);
    if (who.jid === undefined || !isPresence(presence.lastKnownPresence)) {
      sink.skip('unknown_presence', `presence ${String(presence.lastKnownPresence)}`);
      continue;
    }
    const data: EventData<'presence.updated'> = {
      chat_jid: chat.jid,
      participant_jid: who.jid,
      presence: presence.lastKnownPresence,
    };
    setIf(data, 'chat_lid', chat.lid);
    setIf(data, 'participant_lid', who.lid);
    setIf(data, 'last_seen', readUnixSecondsAsIso(presence.lastSeen));
    setIf(data, 'group_online_count', readUint(presence.groupOnlineCount));
    sink.emit(makeEvent(ctx, 'presence.updated', randomEventId(), undefined, data));
  }
}
