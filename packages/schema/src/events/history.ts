import { z } from 'zod';
import { chatDataSchema } from './chat.ts';
import { contactDataSchema } from './contact.ts';
import { lidMappingSchema } from './lid.ts';
import { messageDataSchema } from './message.ts';

export const historySyncTypeSchema = z.enum([
  'initial_bootstrap',
  'initial_status_v3',
  'full',
  'recent',
  'push_name',
  'non_blocking_data',
  'on_demand',
  'unknown',
]);
export type HistorySyncType = z.infer<typeof historySyncTypeSchema>;

/**
 * Where a batch sits in a history sync (`messaging-history.set`). WhatsApp sends a sync as
 * chunks (`chunk_order`); Switchyard splits a chunk into `parts` so each event fits a NATS
 * message, numbered by `part` (0-based).
 */
const batchFields = {
  sync_type: historySyncTypeSchema,
  /** Percent of the sync done, when WhatsApp says. */
  progress: z.number().min(0).max(100).optional(),
  chunk_order: z.number().int().nonnegative().optional(),
  /** The newest history: messages after it arrive live. */
  is_latest: z.boolean(),
  part: z.number().int().nonnegative(),
  parts: z.number().int().positive(),
  peer_data_request_session_id: z.string().max(256).optional(),
};

export const historyChatsDataSchema = z.object({
  ...batchFields,
  chats: z.array(chatDataSchema),
});

export const historyContactsDataSchema = z.object({
  ...batchFields,
  contacts: z.array(contactDataSchema),
  /** LID↔phone-number pairs that came with the sync. */
  lid_mappings: z.array(lidMappingSchema).optional(),
});

/** History messages, each in the same shape as `message.received` / `message.sent` data. */
export const historyMessagesDataSchema = z.object({
  ...batchFields,
  messages: z.array(messageDataSchema),
});
