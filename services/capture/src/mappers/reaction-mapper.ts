import type { proto, WAMessageKey } from '@whiskeysockets/baileys';
import type { EventData } from '@switchyard/schema';
import type { UnsequencedEvent } from '../captured-event.ts';
import { splitAddress, type SplitAddress } from '../jid-addressing.ts';
import { toRawJson } from '../raw-message.ts';
import { readString } from '../wa-readers.ts';
import { eventIdOf } from './event-ids.ts';
import { makeEvent, setIf, type MapContext } from './map-context.ts';
import { readMillisAsIso } from './readers.ts';

/**
 * A reaction (`messages.reaction`, or a `reactionMessage` upsert): `target` is the message
 * reacted to, `reaction.key` the reaction message's own key — whose id makes the event id, so
 * the two ways Baileys reports one reaction give one event, and a removal (empty text) is an
 * event of its own. Undefined when a key lacks what the id needs.
 */
export function reactionEvent(
  ctx: MapContext,
  target: WAMessageKey,
  reaction: proto.IReaction,
): UnsequencedEvent | undefined {
  const reactor: WAMessageKey | undefined = reaction.key ?? undefined;
  const targetId = readString(target.id);
  const reactionId = readString(reactor?.id);
  const chatJid = readString(reactor?.remoteJid) ?? readString(target.remoteJid);
  if (targetId === undefined || reactionId === undefined || chatJid === undefined) return undefined;
  const chat = splitAddress(chatJid, reactor?.remoteJidAlt ?? target.remoteJidAlt);
  const fromMe = reactor?.fromMe === true;
  const text = readString(reaction.text) ?? '';
  const data: EventData<'message.reaction'> = {
    message_id: targetId,
    chat_jid: chat.jid ?? chatJid,
    reaction_id: reactionId,
    from_me: fromMe,
    text,
    removed: text === '',
    timestamp: readMillisAsIso(reaction.senderTimestampMs) ?? ctx.capturedAt.toISOString(),
    raw: toRawJson({ key: target, reaction }),
  };
  setIf(data, 'chat_lid', chat.lid);
  if (typeof target.fromMe === 'boolean') data.message_from_me = target.fromMe;
  const author = splitAddress(target.participant, target.participantAlt);
  setIf(data, 'message_sender_jid', author.jid);
  setIf(data, 'message_sender_lid', author.lid);
  const sender = reactorAddress(reactor, fromMe, chatJid, ctx);
  setIf(data, 'sender_jid', sender.jid);
  setIf(data, 'sender_lid', sender.lid);
  const id = eventIdOf(ctx, 'message.reaction', chatJid, reactionId, String(fromMe));
  return makeEvent(ctx, 'message.reaction', id, data.timestamp, data);
}

/** Groups name the reactor in `participant`; in a 1:1 chat it is the chat, or us. */
function reactorAddress(
  reactor: WAMessageKey | undefined,
  fromMe: boolean,
  chatJid: string,
  ctx: MapContext,
): SplitAddress {
  if (readString(reactor?.participant) !== undefined)
    return splitAddress(reactor?.participant, reactor?.participantAlt);
  if (fromMe) return splitAddress(ctx.self?.jid, ctx.self?.lid);
  return splitAddress(chatJid, reactor?.remoteJidAlt);
}
