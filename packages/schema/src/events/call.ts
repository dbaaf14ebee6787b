import { z } from 'zod';
import { jidSchema, timestampSchema } from './common.ts';

/** A call's state change (`call` events); the event type says which (offered, accepted, …). */
export const callDataSchema = z.object({
  call_id: z.string().min(1).max(256),
  chat_jid: jidSchema,
  chat_lid: jidSchema.optional(),
  caller_jid: jidSchema.optional(),
  caller_lid: jidSchema.optional(),
  is_video: z.boolean().optional(),
  is_group: z.boolean().optional(),
  group_jid: jidSchema.optional(),
  /** Received while this device was offline (delivered on reconnect). */
  offline: z.boolean(),
  timestamp: timestampSchema,
});
export type CallData = z.infer<typeof callDataSchema>;
