import type { z } from 'zod';
import { blocklistSetDataSchema, blocklistUpdatedDataSchema } from './blocklist.ts';
import { callDataSchema } from './call.ts';
import { chatDataSchema, chatDeletedDataSchema } from './chat.ts';
import { contactDataSchema } from './contact.ts';
import {
  groupJoinRequestedDataSchema,
  groupParticipantsDataSchema,
  groupUpdatedDataSchema,
  groupUpsertedDataSchema,
} from './group.ts';
import {
  historyChatsDataSchema,
  historyContactsDataSchema,
  historyMessagesDataSchema,
} from './history.ts';
import { labelAssociationDataSchema, labelEditedDataSchema } from './label.ts';
import { lidMappingSchema } from './lid.ts';
import { mediaStoredDataSchema } from './media.ts';
import {
  messageDataSchema,
  messageDeletedDataSchema,
  messageEditedDataSchema,
  messageReactionDataSchema,
  receiptDataSchema,
} from './message.ts';
import { presenceUpdatedDataSchema } from './presence.ts';
import {
  sessionConnectedDataSchema,
  sessionDisconnectedDataSchema,
  sessionLoggedOutDataSchema,
  sessionQrDataSchema,
} from './session.ts';

/**
 * Every event type Switchyard knows, with the schema of its `data`. Adding a type here makes it
 * valid on INGEST, gives it a JSON Schema, and lets every consumer receive it.
 *
 * Group membership changes are one type per action (`group.participants_added` …) rather than
 * one type with an action field, like receipts (`message.delivered`/`read`/`played`): subjects
 * and webhook endpoints select by type, so "tell me when someone joins" is a subscription, not
 * a filter on data every consumer has to write.
 */
export const eventDataSchemas = {
  'message.received': messageDataSchema,
  'message.sent': messageDataSchema,
  'message.edited': messageEditedDataSchema,
  'message.deleted': messageDeletedDataSchema,
  'message.delivered': receiptDataSchema,
  'message.read': receiptDataSchema,
  'message.played': receiptDataSchema,
  'message.reaction': messageReactionDataSchema,
  'presence.updated': presenceUpdatedDataSchema,
  'chat.upserted': chatDataSchema,
  'chat.updated': chatDataSchema,
  'chat.deleted': chatDeletedDataSchema,
  'contact.upserted': contactDataSchema,
  'contact.updated': contactDataSchema,
  'group.upserted': groupUpsertedDataSchema,
  'group.updated': groupUpdatedDataSchema,
  'group.participants_added': groupParticipantsDataSchema,
  'group.participants_removed': groupParticipantsDataSchema,
  'group.participants_promoted': groupParticipantsDataSchema,
  'group.participants_demoted': groupParticipantsDataSchema,
  /** A member changed their phone number (Baileys' `modify`): the participant's new JIDs. */
  'group.participants_modified': groupParticipantsDataSchema,
  'group.join_requested': groupJoinRequestedDataSchema,
  'call.offered': callDataSchema,
  'call.accepted': callDataSchema,
  'call.rejected': callDataSchema,
  'call.timeout': callDataSchema,
  /** The call ended (hung up, or cancelled by the caller before it was answered). */
  'call.terminated': callDataSchema,
  'label.edited': labelEditedDataSchema,
  'label.associated': labelAssociationDataSchema,
  'label.dissociated': labelAssociationDataSchema,
  'blocklist.set': blocklistSetDataSchema,
  'blocklist.updated': blocklistUpdatedDataSchema,
  'lid.mapped': lidMappingSchema,
  'history.chats': historyChatsDataSchema,
  'history.contacts': historyContactsDataSchema,
  'history.messages': historyMessagesDataSchema,
  'session.connected': sessionConnectedDataSchema,
  'session.disconnected': sessionDisconnectedDataSchema,
  'session.qr': sessionQrDataSchema,
  'session.logged_out': sessionLoggedOutDataSchema,
  'media.stored': mediaStoredDataSchema,
} as const satisfies Record<string, z.ZodType>;

export type EventType = keyof typeof eventDataSchemas;
export type EventData<T extends EventType> = z.infer<(typeof eventDataSchemas)[T]>;

export const EVENT_TYPES = Object.keys(eventDataSchemas) as EventType[];

export function isEventType(value: string): value is EventType {
  return Object.hasOwn(eventDataSchemas, value);
}

/** Event types whose data carries a media descriptor the media service may fetch. */
export const MEDIA_BEARING_TYPES: readonly EventType[] = ['message.received', 'message.sent'];
