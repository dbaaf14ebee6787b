import { z } from 'zod';
import { jidSchema } from './common.ts';

export const sessionConnectedDataSchema = z.object({
  jid: jidSchema.optional(),
  lid: jidSchema.optional(),
  push_name: z.string().max(256).optional(),
});

export const sessionDisconnectedDataSchema = z.object({
  /** Baileys `DisconnectReason` status code, when there is one. */
  status_code: z.number().int().optional(),
  reason: z.string().max(1024),
  will_reconnect: z.boolean(),
});

export const sessionQrDataSchema = z.object({
  qr: z.string().min(1).max(4096),
});

export const sessionLoggedOutDataSchema = z.object({
  reason: z.string().max(1024),
});
