/** Readers for the loose values of Baileys' non-message payloads (see ../wa-readers.ts). */
import { readLong } from '../wa-readers.ts';

export function readBool(value: unknown): boolean | undefined {
  return typeof value === 'boolean' ? value : undefined;
}

/** A finite integer (which may be negative or zero, unlike `readUint`). */
export function readInt(value: unknown): number | undefined {
  const n = readLong(value);
  return n !== undefined && Number.isSafeInteger(n) ? n : undefined;
}

/** A `Date`, an ISO string (a Date after a JSON round trip) or epoch milliseconds, as ISO. */
export function readDateIso(value: unknown): string | undefined {
  let date: Date | undefined;
  if (value instanceof Date) date = value;
  else if (typeof value === 'string' || typeof value === 'number') date = new Date(value);
  return date !== undefined && !Number.isNaN(date.getTime()) ? date.toISOString() : undefined;
}

/** Epoch milliseconds (number | Long) as ISO; undefined when absent or zero. */
export function readMillisAsIso(value: unknown): string | undefined {
  const ms = readLong(value);
  if (ms === undefined || ms <= 0) return undefined;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}
