import { z } from 'zod';
import { jidSchema, timestampSchema } from './common.ts';

/** One participant's presence in a chat (1:1: the contact; groups: each member). */
export const presenceUpdatedDataSchema = z.object({
  chat_jid: jidSchema,
  chat_lid: jidSchema.optional(),
  participant_jid: jidSchema,
  participant_lid: jidSchema.optional(),
  presence: z.enum(['unavailable', 'available', 'composing', 'recording', 'paused']),
  last_seen: timestampSchema.optional(),
  group_online_count: z.number().int().nonnegative().optional(),
});
export type PresenceUpdatedData = z.infer<typeof presenceUpdatedDataSchema>;
