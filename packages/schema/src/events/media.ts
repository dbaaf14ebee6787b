import { z } from 'zod';
import { base64Schema, mediaKindSchema } from './common.ts';

/** Emitted by the media service once a blob is downloaded, decrypted, verified and stored. */
export const mediaStoredDataSchema = z.object({
  message_id: z.string().min(1).max(256),
  source_event_id: z.string().min(1).max(128),
  kind: mediaKindSchema,
  mimetype: z.string().max(255).optional(),
  size: z.number().int().nonnegative(),
  sha256: base64Schema,
  storage_url: z.string().min(1).max(4096),
});
