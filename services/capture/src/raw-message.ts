import { isRecord } from './wa-readers.ts';

/**
 * The full WAMessage as plain JSON for `data.raw`, binary as base64 strings.
 *
 * Why a walk of our own rather than the two ready-made options:
 * - `JSON.stringify(msg, BufferJSON.replacer)` calls `toJSON()` on protobufjs instances first,
 *   and Baileys mixes those with plain objects (a live message is a plain object holding a
 *   decoded `proto.Message`; history and call stubs are whole `WebMessageInfo` instances). The
 *   same message would come out with bytes as `{type:'Buffer',data}` on one path and as bare
 *   base64 (enums as names) on the other.
 * - `proto.WebMessageInfo.toObject(msg, { bytes: String, longs: String })` is uniform but keeps
 *   only proto fields, dropping Baileys' key extensions (`remoteJidAlt`, `participantAlt`,
 *   `addressingMode`, …) — exactly the LID/PN addressing we must not lose.
 * This walk reads own enumerable fields of both kinds the same way (protobufjs keeps defaults on
 * the prototype, so only what the source set is kept): bytes → base64 (as protobuf's JSON form,
 * so `proto.WebMessageInfo.fromObject(raw)` rebuilds the message), int64 → number (decimal string
 * beyond 2^53), enums stay numeric, empty repeated fields and null/undefined are omitted.
 */
export function toRawJson(message: object): Record<string, unknown> {
  const value = walk(message, 0);
  return isRecord(value) ? value : {};
}

const MAX_DEPTH = 64;

function walk(value: unknown, depth: number): unknown {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'bigint') return longToJson(Number(value), value.toString());
  if (typeof value !== 'object') return undefined; // functions, symbols
  if (depth > MAX_DEPTH) return undefined;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) {
    const items = value
      .map((item: unknown) => walk(item, depth + 1))
      .filter((item) => item !== undefined);
    return items.length > 0 ? items : undefined;
  }
  if (isLongLike(value)) return longLikeToJson(value);
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    const mapped = walk(field, depth + 1);
    if (mapped !== undefined) out[key] = mapped;
  }
  return out;
}

interface LongLike {
  low: number;
  high: number;
  unsigned?: boolean;
}

function isLongLike(value: object): value is LongLike {
  return (
    'low' in value &&
    'high' in value &&
    typeof value.low === 'number' &&
    typeof value.high === 'number'
  );
}

function longLikeToJson(value: LongLike): number | string {
  const high = value.unsigned === true ? BigInt(value.high >>> 0) : BigInt(value.high | 0);
  const big = (high << 32n) + BigInt(value.low >>> 0);
  return longToJson(Number(big), big.toString());
}

function longToJson(n: number, text: string): number | string {
  return Number.isSafeInteger(n) ? n : text;
}
