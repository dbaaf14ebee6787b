import { z } from 'zod';
import { jidSchema, rawSchema } from './common.ts';

/** A contact (`contacts.upsert` / `contacts.update`): an update carries only what changed. */
export const contactDataSchema = z.object({
  contact_jid: jidSchema,
  contact_lid: jidSchema.optional(),
  /** The name saved in this account's address book. */
  name: z.string().max(1024).optional(),
  /** The name the contact set for themselves (push name). */
  notify: z.string().max(1024).optional(),
  username: z.string().max(256).optional(),
  verified_name: z.string().max(1024).optional(),
  /** Profile picture URL; `changed` when it changed and must be fetched; null when none is set. */
  img_url: z.string().max(4096).nullable().optional(),
  status: z.string().max(1024).optional(),
  raw: rawSchema.optional(),
});
export type ContactData = z.infer<typeof contactDataSchema>;
