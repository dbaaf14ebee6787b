import { deriveEventId, newEventId } from '@switchyard/schema';
import type { MapContext } from './map-context.ts';

/**
 * The id of every event captured from WhatsApp, in one place. Each recipe starts with
 * (tenant, instance, a tag naming the kind) and `deriveEventId` length-prefixes the parts, so
 * recipes of different kinds never collide. Three families:
 *
 * 1. Occurrence keys — the source names the occurrence, so a re-delivered or re-captured event
 *    gets the same id and two real events never share one:
 *    - message.received / message.sent: `messageEventId` (message-mapper.ts): chat, id, fromMe.
 *    - message.edited: chat, edited message id, edit time (s), hash of the new content. Both ways
 *      Baileys reports an edit (the protocol message upserted, and the `messages.update` it
 *      derives) carry all four, so they land on one id.
 *    - message.deleted (everyone): chat, revoked message id — a message is revoked once.
 *    - message.deleted (me): chat, message id, fromMe — a message is deleted for me once.
 *    - message.reaction: chat, the reaction message's own id, its fromMe. Every reaction
 *      (removal included) is a message of its own.
 *    - message.delivered / read / played: the type, chat, message id, fromMe, and the receipt's
 *      participant (groups: one receipt per member) — a receipt of a kind happens once.
 *    - call.*: call id and status.
 *    - lid.mapped: the LID and the phone-number JID — the same pair is the same fact.
 *    - history.*: the kind, sync type, chunk order, part, and a hash of the part's content.
 * 2. Snapshots — entity id + content hash: a snapshot identical to one already captured says
 *    nothing new, and Baileys re-sends the same snapshots on every connect (groups, blocklist).
 *    chat.upserted, contact.upserted, group.upserted, label.edited, blocklist.set.
 * 3. No occurrence key — random ids: deltas and toggles Baileys reports without any time or id
 *    (chat.updated, contact.updated, group.updated, chat.deleted, group.participants_*,
 *    group.join_requested, label.associated/dissociated, blocklist.updated, presence.updated,
 *    message.deleted for a whole chat). A content hash would merge real repeats — mark read,
 *    unread, read again is `{unreadCount: 0}` twice — and persistence would drop the second
 *    copy for good. A re-delivery may then duplicate a delta, which re-applies harmlessly; the
 *    adapter collapses identical consecutive updates of one entity (last-state.ts) so Baileys'
 *    repeats (a contacts.update with the same push name on every incoming message) stay out.
 */
export function eventIdOf(ctx: MapContext, kind: string, ...parts: string[]): string {
  return deriveEventId(ctx.tenant, ctx.instance, kind, ...parts);
}

/** For events with no occurrence key (family 3 above). */
export function randomEventId(): string {
  return newEventId();
}

export const boolPart = (value: boolean | undefined): string =>
  value === undefined ? '' : String(value);
