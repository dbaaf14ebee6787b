import type { z } from 'zod';
import { mediaStoredDataSchema } from './media.ts';
import { messageDataSchema, receiptDataSchema } from './message.ts';
import {
  sessionConnectedDataSchema,
  sessionDisconnectedDataSchema,
  sessionLoggedOutDataSchema,
  sessionQrDataSchema,
} from './session.ts';

/**
 * Every event type Switchyard knows, with the schema of its `data`. Adding a type here makes it
 * valid on INGEST, gives it a JSON Schema, and lets every consumer receive it.
 */
export const eventDataSchemas = {
  'message.received': messageDataSchema,
  'message.sent': messageDataSchema,
  'message.delivered': receiptDataSchema,
  'message.read': receiptDataSchema,
  'message.played': receiptDataSchema,
  'session.connected': sessionConnectedDataSchema,
  'session.disconnected': sessionDisconnectedDataSchema,
  'session.qr': sessionQrDataSchema,
  'session.logged_out': sessionLoggedOutDataSchema,
  'media.stored': mediaStoredDataSchema,
} as const satisfies Record<string, z.ZodType>;

export type EventType = keyof typeof eventDataSchemas;
export type EventData<T extends EventType> = z.infer<(typeof eventDataSchemas)[T]>;

export const EVENT_TYPES = Object.keys(eventDataSchemas) as EventType[];

export function isEventType(value: string): value is EventType {
  return Object.hasOwn(eventDataSchemas, value);
}

/** Event types whose data carries a media descriptor the media service may fetch. */
export const MEDIA_BEARING_TYPES: readonly EventType[] = ['message.received', 'message.sent'];
