import { dlqRecordSchema, type DlqRecord } from '@switchyard/schema';
import { z } from 'zod';

export type ReadDlqRecord = { ok: true; record: DlqRecord } | { ok: false; error: string };

const decoder = new TextDecoder('utf-8', { fatal: true });
// Buffer.from(…, 'base64') skips characters it does not know, so a mangled payload would be
// stored as different bytes without a word; only canonical padded base64 is accepted.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Validates the bytes of a DLQ message into a record, never throwing. */
export function readDlqRecord(bytes: Uint8Array): ReadDlqRecord {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch (err) {
    return { ok: false, error: `DLQ message is not UTF-8 JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  const parsed = dlqRecordSchema.safeParse(value);
  if (!parsed.success) return { ok: false, error: `DLQ message is not a DlqRecord: ${z.prettifyError(parsed.error)}` };
  if (!BASE64.test(parsed.data.payload_base64)) return { ok: false, error: 'DLQ record payload_base64 is not valid base64' };
  return { ok: true, record: parsed.data };
}
