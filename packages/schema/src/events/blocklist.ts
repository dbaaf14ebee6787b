import { z } from 'zod';
import { jidSchema } from './common.ts';

/** The whole blocklist, as fetched. */
export const blocklistSetDataSchema = z.object({
  blocklist: z.array(jidSchema),
});

/** Contacts blocked (`add`) or unblocked (`remove`). */
export const blocklistUpdatedDataSchema = z.object({
  action: z.enum(['add', 'remove']),
  blocklist: z.array(jidSchema).min(1),
});
