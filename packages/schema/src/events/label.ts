import { z } from 'zod';
import { jidSchema } from './common.ts';

/** A WhatsApp Business label created, renamed, recoloured or deleted. */
export const labelEditedDataSchema = z.object({
  label_id: z.string().min(1).max(256),
  name: z.string().max(1024).optional(),
  /** WhatsApp's colour index (0-19). */
  color: z.number().int().nonnegative().optional(),
  deleted: z.boolean(),
  predefined_id: z.string().max(64).optional(),
});

/** A label put on (`label.associated`) or taken off (`label.dissociated`) a chat or a message. */
export const labelAssociationDataSchema = z.object({
  label_id: z.string().min(1).max(256),
  target: z.enum(['chat', 'message']),
  chat_jid: jidSchema,
  chat_lid: jidSchema.optional(),
  message_id: z.string().min(1).max(256).optional(),
});
