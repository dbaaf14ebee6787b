import { z } from 'zod';

/**
 * WhatsApp addressing is LID-first: wherever Baileys gives both the LID (`…@lid`) and the
 * phone-number JID (`…@s.whatsapp.net`), both are kept.
 */
export const jidSchema = z.string().min(3).max(256);

/** Base64 of binary fields (media keys, hashes) so events stay plain JSON. */
export const base64Schema = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');

export const timestampSchema = z.iso.datetime({ offset: true });

export const mediaKindSchema = z.enum(['image', 'video', 'audio', 'document', 'sticker']);

/** Everything the media service needs to fetch and decrypt a blob later. */
export const mediaDescriptorSchema = z.object({
  kind: mediaKindSchema,
  mimetype: z.string().max(255).optional(),
  file_length: z.number().int().nonnegative().optional(),
  media_key: base64Schema.optional(),
  direct_path: z.string().max(2048).optional(),
  url: z.string().max(4096).optional(),
  file_sha256: base64Schema.optional(),
  file_enc_sha256: base64Schema.optional(),
  file_name: z.string().max(1024).optional(),
  caption: z.string().optional(),
  seconds: z.number().int().nonnegative().optional(),
  width: z.number().int().nonnegative().optional(),
  height: z.number().int().nonnegative().optional(),
});
export type MediaDescriptor = z.infer<typeof mediaDescriptorSchema>;

/** The full Baileys source object as JSON (binary as base64), so nothing the source said is lost. */
export const rawSchema = z.record(z.string(), z.unknown());
