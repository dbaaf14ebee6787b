import { z } from 'zod';
import { jidSchema, rawSchema, timestampSchema } from './common.ts';

/**
 * A chat as Baileys knows it (`proto.Conversation`). Upserts carry what WhatsApp sent about the
 * chat; updates only what changed, with `null` where Baileys clears a value (unpinned, unmuted).
 */
const chatFields = {
  chat_jid: jidSchema,
  chat_lid: jidSchema.optional(),
  name: z.string().max(1024).optional(),
  /** Unread messages; -1 when marked unread, null when Baileys resets the counter. */
  unread_count: z.number().int().nullable().optional(),
  archived: z.boolean().optional(),
  pinned: z.boolean().optional(),
  /** When the mute ends, as Baileys gives it (unix time; -1 = forever); null when unmuted. */
  mute_end_time: z.number().int().nullable().optional(),
  read_only: z.boolean().optional(),
  marked_as_unread: z.boolean().optional(),
  /** Disappearing-messages timer in seconds; 0/null = off. */
  ephemeral_expiration: z.number().int().nonnegative().nullable().optional(),
  last_message_at: timestampSchema.optional(),
  last_message_received_at: timestampSchema.optional(),
  description: z.string().optional(),
  /** The chat as JSON, without its history messages (those come as `history.messages`). */
  raw: rawSchema.optional(),
};

export const chatDataSchema = z.object(chatFields);
export type ChatData = z.infer<typeof chatDataSchema>;

export const chatDeletedDataSchema = z.object({
  chat_jid: jidSchema,
  chat_lid: jidSchema.optional(),
});
