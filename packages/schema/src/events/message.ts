import { z } from 'zod';
import { jidSchema, mediaDescriptorSchema, timestampSchema } from './common.ts';

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
  participant_jid: jidSchema.optional(),
  participant_lid: jidSchema.optional(),
  from_me: z.boolean().optional(),
  timestamp: timestampSchema,
});
export type ReceiptData = z.infer<typeof receiptDataSchema>;
