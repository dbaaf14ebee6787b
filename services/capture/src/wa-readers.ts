/**
 * Small typed readers for the loosely typed values Baileys hands us. Protobuf `int64` fields
 * arrive as `number`, as a `Long`, or — after a JSON round trip — as a plain `{ low, high }`;
 * `bytes` fields as `Uint8Array`/`Buffer`. Everything is read as `unknown` and narrowed here,
 * so no `any` leaks into the mapper.
 */

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const TWO_POW_32 = 2 ** 32;

/** A protobuf int64 (number | Long | `{ low, high }` | decimal string) as a number; undefined when absent. */
export function readLong(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string') return /^-?\d+$/.test(value) ? Number(value) : undefined;
  if (!isRecord(value)) return undefined;
  const { toNumber, low, high } = value;
  if (typeof toNumber === 'function') {
    const n: unknown = (toNumber as () => unknown).call(value);
    return typeof n === 'number' ? n : undefined;
  }
  // A Long that lost its prototype in JSON: `high` is signed, `low` is read as unsigned.
  if (typeof low === 'number' && typeof high === 'number') return high * TWO_POW_32 + (low >>> 0);
  return undefined;
}

/** A non-negative integer field (sizes, durations, dimensions); undefined otherwise. */
export function readUint(value: unknown): number | undefined {
  const n = readLong(value);
  return n !== undefined && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** A non-empty string; Baileys uses both `null` and `''` for "absent". */
export function readString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A non-empty `bytes` field as base64 (a base64 string, as protobuf's toObject writes it, passes through). */
export function readBase64(value: unknown): string | undefined {
  if (value instanceof Uint8Array)
    return value.byteLength > 0 ? Buffer.from(value).toString('base64') : undefined;
  if (typeof value === 'string' && value !== '' && BASE64.test(value)) return value;
  return undefined;
}

/** The HTTP-like status code Baileys puts on a Boom error (`error.output.statusCode`). */
export function readStatusCode(error: unknown): number | undefined {
  if (!isRecord(error)) return undefined;
  const output = error['output'];
  if (isRecord(output) && typeof output['statusCode'] === 'number') return output['statusCode'];
  return undefined;
}

/** Unix seconds (number | Long) as an ISO timestamp; undefined for a missing or zero time. */
export function readUnixSecondsAsIso(value: unknown): string | undefined {
  const seconds = readLong(value);
  if (seconds === undefined || seconds <= 0) return undefined;
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}
