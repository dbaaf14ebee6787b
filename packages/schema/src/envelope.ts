import { z } from 'zod';
import { timestampSchema } from './events/common.ts';
import { EVENT_TYPES, eventDataSchemas, isEventType, type EventType } from './events/registry.ts';
import { eventIdSchema, instanceIdSchema, tenantIdSchema } from './ids.ts';

export const SCHEMA_VERSION = 1 as const;

export const eventSourceSchema = z.enum(['baileys', 'tenant', 'replay']);
export type EventSource = z.infer<typeof eventSourceSchema>;

/** The envelope fields shared by every type; `type` and `data` are fixed per type below. */
const envelopeBase = z.object({
  id: eventIdSchema,
  tenant: tenantIdSchema,
  instance: instanceIdSchema,
  schema_version: z.literal(SCHEMA_VERSION),
  occurred_at: timestampSchema,
  captured_at: timestampSchema,
  /** Per-instance capture order. Capture always sets it; tenants publishing may omit it. */
  seq: z.number().int().nonnegative().optional(),
  source: eventSourceSchema,
  correlation_id: z.string().min(1).max(128).optional(),
});

function envelopeFor<T extends EventType>(type: T) {
  return envelopeBase.extend({ type: z.literal(type), data: eventDataSchemas[type] });
}

type EnvelopeSchemas = { [T in EventType]: ReturnType<typeof envelopeFor<T>> };

export const envelopeSchemas = Object.fromEntries(
  EVENT_TYPES.map((type) => [type, envelopeFor(type)]),
) as EnvelopeSchemas;

/** One event of any known type, discriminated by `type`. */
export const eventEnvelopeSchema = z.discriminatedUnion(
  'type',
  EVENT_TYPES.map((type) => envelopeSchemas[type]) as unknown as [
    EnvelopeSchemas[EventType],
    ...EnvelopeSchemas[EventType][],
  ],
);

export type EventEnvelope = z.infer<typeof eventEnvelopeSchema>;
export type EnvelopeOf<T extends EventType> = z.infer<EnvelopeSchemas[T]>;

/** Why an inbound payload was refused. These codes end up in `exhausted_events.reason`. */
export type EnvelopeErrorCode = 'MALFORMED_JSON' | 'SCHEMA_INVALID' | 'UNKNOWN_TYPE';

export type ParseResult =
  | { ok: true; event: EventEnvelope }
  | { ok: false; code: EnvelopeErrorCode; message: string };

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Validates raw bytes from outside into an envelope, never throwing. */
export function parseEnvelope(bytes: Uint8Array): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch (err) {
    return { ok: false, code: 'MALFORMED_JSON', message: `not valid UTF-8 JSON: ${(err as Error).message}` };
  }
  return validateEnvelope(value);
}

export function validateEnvelope(value: unknown): ParseResult {
  if (typeof value === 'object' && value !== null && 'type' in value) {
    const type = (value).type;
    if (typeof type === 'string' && !isEventType(type)) {
      return { ok: false, code: 'UNKNOWN_TYPE', message: `unknown event type ${JSON.stringify(type.slice(0, 80))}` };
    }
  }
  const parsed = eventEnvelopeSchema.safeParse(value);
  if (!parsed.success) {
    return { ok: false, code: 'SCHEMA_INVALID', message: z.prettifyError(parsed.error) };
  }
  return { ok: true, event: parsed.data };
}

/**
 * Serialises an envelope for the wire; the inverse of `parseEnvelope`. Buffer.from rather than a
 * TextEncoder (the same UTF-8 bytes): an envelope under 4 KiB is cut from Node's shared 8 KiB slab
 * instead of getting an ArrayBuffer of its own, which every young-generation collection would have
 * to sweep (~10% of a router scavenge's pause under a flood), and it encodes in about half the time
 * (0.27 against 0.52 µs for a 363-byte message.received).
 */
export function encodeEnvelope(event: EventEnvelope): Uint8Array {
  return Buffer.from(JSON.stringify(event));
}
