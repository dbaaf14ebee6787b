import type { BaileysEventMap } from '@whiskeysockets/baileys';
import type { SelfIdentity } from '../captured-event.ts';
import { mapBlocklistSet, mapBlocklistUpdate, mapLidMapping } from './account-mapper.ts';
import { mapCall } from './call-mapper.ts';
import { mapChatDeletes, mapChatUpdates, mapChatUpserts } from './chat-mapper.ts';
import { mapContactUpdates, mapContactUpserts } from './contact-mapper.ts';
import { chatClearedEvent, deletedForMeEvent } from './edit-delete-mapper.ts';
import {
  mapGroupUpdates,
  mapGroupUpserts,
  mapJoinRequest,
  mapParticipantsUpdate,
} from './group-mapper.ts';
import { mapHistorySet } from './history-mapper.ts';
import { createLastState } from './last-state.ts';
import { mapLabelAssociation, mapLabelEdit } from './label-mapper.ts';
import { forEachItem, type MapContext, type MapSink } from './map-context.ts';
import { mapMessageUpdate } from './message-update-mapper.ts';
import { mapPresence } from './presence-mapper.ts';
import { reactionEvent } from './reaction-mapper.ts';
import { userReceiptEvents } from './receipt-mapper.ts';
import { mapUpsertedMessage } from './upsert-mapper.ts';

type Handlers = {
  [K in keyof BaileysEventMap]?: (payload: BaileysEventMap[K], ctx: MapContext, sink: MapSink) => void;
};

/**
 * Every Baileys event that becomes Switchyard events, and how. Not here, on purpose:
 * - `connection.update`: stateful (collapses repeats), mapped first by the adapter.
 * - `creds.update`: auth state, the session store's (never an event: it holds keys).
 * - `messaging-history.status`, `messages.media-update`, `message-capping.update`,
 *   `chats.lock`, `settings.update`, `group.member-tag.update`, `newsletter*`: account
 *   settings, media re-upload plumbing and channel traffic with no event type yet; counted as
 *   `unmapped_event` so their volume is visible.
 */
const HANDLERS: Handlers = {
  'messaging-history.set': (set, ctx, sink) => mapHistorySet(set, ctx, sink, ctx.historyPartBytes),
  'chats.upsert': (chats, ctx, sink) => mapChatUpserts(chats, ctx, sink),
  'chats.update': (updates, ctx, sink) => mapChatUpdates(updates, ctx, sink),
  'chats.delete': (ids, ctx, sink) => mapChatDeletes(ids, ctx, sink),
  'messages.upsert': ({ messages, type }, ctx, sink) =>
    forEachItem(messages, sink, 'message', (m) => mapUpsertedMessage(m, type, ctx, sink)),
  'messages.update': (updates, ctx, sink) =>
    forEachItem(updates, sink, 'message update', (u) => mapMessageUpdate(u, ctx, sink)),
  'messages.delete': (deletion, ctx, sink) => {
    if ('all' in deletion) {
      sink.emit(chatClearedEvent(ctx, deletion.jid));
      return;
    }
    forEachItem(deletion.keys, sink, 'message delete', (key) => {
      const event = deletedForMeEvent(ctx, key);
      if (event) sink.emit(event);
      else sink.skip('missing_key', 'delete without message key');
    });
  },
  'messages.reaction': (reactions, ctx, sink) =>
    forEachItem(reactions, sink, 'reaction', ({ key, reaction }) => {
      const event = reactionEvent(ctx, key, reaction);
      if (event) sink.emit(event);
      else sink.skip('missing_key', 'reaction without message keys');
    }),
  'message-receipt.update': (receipts, ctx, sink) =>
    forEachItem(receipts, sink, 'receipt', ({ key, receipt }) => {
      for (const event of userReceiptEvents(ctx, key, receipt)) sink.emit(event);
    }),
  'presence.update': (update, ctx, sink) => mapPresence(update, ctx, sink),
  'contacts.upsert': (contacts, ctx, sink) => mapContactUpserts(contacts, ctx, sink),
  'contacts.update': (updates, ctx, sink) => mapContactUpdates(updates, ctx, sink),
  'groups.upsert': (groups, ctx, sink) => mapGroupUpserts(groups, ctx, sink),
  'groups.update': (updates, ctx, sink) => mapGroupUpdates(updates, ctx, sink),
  'group-participants.update': (update, ctx, sink) => mapParticipantsUpdate(update, ctx, sink),
  'group.join-request': (request, ctx, sink) => mapJoinRequest(request, ctx, sink),
  call: (calls, ctx, sink) => forEachItem(calls, sink, 'call', (call) => mapCall(call, ctx, sink)),
  'labels.edit': (label, ctx, sink) => mapLabelEdit(label, ctx, sink),
  'labels.association': (association, ctx, sink) => mapLabelAssociation(association, ctx, sink),
  'blocklist.set': (blocklist, ctx, sink) => mapBlocklistSet(blocklist, ctx, sink),
  'blocklist.update': (update, ctx, sink) => mapBlocklistUpdate(update, ctx, sink),
  'lid-mapping.update': (mapping, ctx, sink) => mapLidMapping(mapping, ctx, sink),
};

/** Handled elsewhere, or carrying nothing an event should: not counted as unmapped. */
const NOT_EVENTS = new Set<string>(['connection.update', 'creds.update']);

export interface BatchMapperOptions {
  tenant: string;
  instance: string;
  self?: (() => SelfIdentity | undefined) | undefined;
  /** Largest JSON of one history part's items (history-mapper.ts). */
  historyPartBytes?: number | undefined;
}

export type BatchMapper = (
  batch: Partial<BaileysEventMap>,
  capturedAt: Date,
  sink: MapSink,
) => void;

/**
 * Maps one `ev.process` batch, event by event in the batch's own key order — the order
 * Baileys consolidated a buffered flush in (history, chats, messages, updates, deletes,
 * reactions, receipts, contacts, groups) — so INGEST sees them as Baileys gave them. One
 * failing kind does not cost the others. Stateful (last-state.ts), so one per session.
 */
export function createBatchMapper(options: BatchMapperOptions): BatchMapper {
  const lastState = createLastState();
  return (batch, capturedAt, sink) => {
    const ctx: MapContext = {
      tenant: options.tenant,
      instance: options.instance,
      capturedAt,
      self: options.self?.(),
      lastState,
      historyPartBytes: options.historyPartBytes,
    };
    for (const name of Object.keys(batch) as Array<keyof BaileysEventMap>) {
      try {
        dispatch(name, batch, ctx, sink);
      } catch (err) {
        sink.fail(err, name);
      }
    }
  };
}

function dispatch<K extends keyof BaileysEventMap>(
  name: K,
  batch: Partial<BaileysEventMap>,
  ctx: MapContext,
  sink: MapSink,
): void {
  const payload = batch[name];
  if (payload === undefined || NOT_EVENTS.has(name)) return;
  const handler = HANDLERS[name];
  if (handler) handler(payload, ctx, sink);
  else sink.skip('unmapped_event', name);
}
