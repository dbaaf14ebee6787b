import { z } from 'zod';
import { jidSchema } from './common.ts';

/** WhatsApp revealed which phone-number JID a LID belongs to (`lid-mapping.update`). */
export const lidMappingSchema = z.object({
  lid: jidSchema,
  pn: jidSchema,
});
export type LidMapping = z.infer<typeof lidMappingSchema>;
