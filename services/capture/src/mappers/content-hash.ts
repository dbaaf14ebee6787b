import { createHash } from 'node:crypto';
import { toRawJson } from '../raw-message.ts';

/**
 * A short stable hash of a Baileys payload's content, for ids of events that have no occurrence
 * key of their own. It goes through `toRawJson` first, so a protobuf instance and the plain
 * object Baileys sometimes hands over instead (or a fixture revived from JSON) hash the same,
 * and sorts keys, because field order differs between those forms.
 */
export function contentHash(value: object): string {
  return createHash('sha256').update(canonicalJson(toRawJson(value))).digest('base64url').slice(0, 22);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, field]) => `${JSON.stringify(key)}:${canonicalJson(field)}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}
