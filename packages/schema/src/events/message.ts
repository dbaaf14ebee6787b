import { z } from 'zod';
import { jidSchema, mediaDescriptorSchema, rawSchema, timestampSchema } from './common.ts';

/** A WhatsApp message as captured: the readable fields first, the full source kept in `raw`. */
export const messageDataSchema = z.object({
  message_id: z.string().min(1).max(256),
  chat_jid: jidSchema,
  chat_lid: jidSchema.optional(),
  sender_jid: jidSchema.optional(),
  sender_lid: jidSchema.optional(),
  from_me: z.boolean(),
  push_name: z.string().max(256).optional(),
  timestamp: timestampSchema,
  /** `notify` for live traffic, `append` for messages WhatsApp appends (history, own devices). */
  upsert_kind: z.enum(['notify', 'append']).optional(),
  message_type: z.string().min(1).max(64),
  text: z.string().optional(),
  quoted_message_id: z.string().max(256).optional(),
  media: mediaDescriptorSchema.optional(),
  /** The full Baileys WAMessage as JSON (binary as base64), so nothing the source said is lost. */
  raw: z.record(z.string(), z.unknown()).optional(),
});
export type MessageData = z.infer<typeof messageDataSchema>;

/** Receipts: one per message and, in groups, per reading participant. */
export const receiptDataSchema = z.object({
  message_id: z.string().min(1).max(256),
  chat_jid: jidSchema,
  chat_lid: jidSchema.optional(),
  participant_jid: jidSchema.optional(),
  participant_lid: jidSchema.optional(),
  from_me: z.boolean().optional(),
  timestamp: timestampSchema,
});
export type ReceiptData = z.infer<typeof receiptDataSchema>;

const messageIdSchema = z.string().min(1).max(256);

/**
 * A message edited by its author (`protocolMessage` MESSAGE_EDIT). `message_id` is the edited
 * message; the new content is read like a message (`message_type`, `text`, `media`).
 */
export const messageEditedDataSchema = z.object({
  message_id: messageIdSchema,
  chat_jid: jidSchema,
  chat_lid: jidSchema.optional(),
  /** Who edited (the author: only the author can edit). */
  sender_jid: jidSchema.optional(),
  sender_lid: jidSchema.optional(),
  from_me: z.boolean(),
  /** When the edit was made. */
  timestamp: timestampSchema,
  /** The id of the protocol message that carried the edit, when captured from it. */
  edit_message_id: messageIdSchema.optional(),
  message_type: z.string().min(1).max(64).optional(),
  text: z.string().optional(),
  media: mediaDescriptorSchema.optional(),
  /** The source (the protocol message, or Baileys' `messages.update` entry) as JSON. */
  raw: rawSchema.optional(),
});
export type MessageEditedData = z.infer<typeof messageEditedDataSchema>;

/**
 * A message deleted. `everyone`: revoked for all (`protocolMessage` REVOKE, by its author or a
 * group admin). `me`: deleted on this account's devices only (app-state "delete for me"), or —
 * with `all_in_chat` and no `message_id` — every message of a chat cleared.
 */
export const messageDeletedDataSchema = z.object({
  scope: z.enum(['everyone', 'me']),
  message_id: messageIdSchema.optional(),
  chat_jid: jidSchema,
  chat_lid: jidSchema.optional(),
  all_in_chat: z.boolean().optional(),
  /** Whether the deleted message was sent by this account, when the source says. */
  from_me: z.boolean().optional(),
  /** Whether this account did the deleting. */
  deleted_by_me: z.boolean(),
  /** Who revoked it (groups name the revoker; 1:1 revokes are by the chat or by us). */
  deleted_by_jid: jidSchema.optional(),
  deleted_by_lid: jidSchema.optional(),
  /** The id of the protocol message that carried the revoke. */
  revoke_message_id: messageIdSchema.optional(),
  timestamp: timestampSchema,
  raw: rawSchema.optional(),
});
export type MessageDeletedData = z.infer<typeof messageDeletedDataSchema>;

/** A reaction to a message. An empty `text` means the reactor removed their reaction. */
export const messageReactionDataSchema = z.object({
  /** The message reacted to. */
  message_id: messageIdSchema,
  chat_jid: jidSchema,
  chat_lid: jidSchema.optional(),
  /** Whether the message reacted to was sent by this account. */
  message_from_me: z.boolean().optional(),
  /** In groups, the author of the message reacted to. */
  message_sender_jid: jidSchema.optional(),
  message_sender_lid: jidSchema.optional(),
  /** The id of the reaction message itself. */
  reaction_id: messageIdSchema,
  sender_jid: jidSchema.optional(),
  sender_lid: jidSchema.optional(),
  from_me: z.boolean(),
  /** The emoji; empty when removed. */
  text: z.string().max(64),
  removed: z.boolean(),
  timestamp: timestampSchema,
  raw: rawSchema.optional(),
});
export type MessageReactionData = z.infer<typeof messageReactionDataSchema>;
