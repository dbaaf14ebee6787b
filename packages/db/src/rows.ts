/**
 * Small typed readers for result rows: pg hands back untyped values, so each mapper checks the
 * shape it relies on instead of casting, and a schema/code mismatch fails loudly.
 */
import { RowShapeError } from './errors.ts';

export type Row = Record<string, unknown>;

export function text(row: Row, column: string): string {
  const value = row[column];
  if (typeof value !== 'string') throw new RowShapeError(column, 'text', value);
  return value;
}

export function textOrNull(row: Row, column: string): string | null {
  return row[column] === null ? null : text(row, column);
}

/** int4 arrives as a number, int8 as a string; both must be safe integers here. */
export function int(row: Row, column: string): number {
  const value = row[column];
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n))
    throw new RowShapeError(column, 'integer', value);
  return n;
}

export function intOrNull(row: Row, column: string): number | null {
  return row[column] === null ? null : int(row, column);
}

export function bool(row: Row, column: string): boolean {
  const value = row[column];
  if (typeof value !== 'boolean') throw new RowShapeError(column, 'boolean', value);
  return value;
}

export function date(row: Row, column: string): Date {
  const value = row[column];
  if (!(value instanceof Date)) throw new RowShapeError(column, 'timestamptz', value);
  return value;
}

export function dateOrNull(row: Row, column: string): Date | null {
  return row[column] === null ? null : date(row, column);
}

export function bytes(row: Row, column: string): Buffer {
  const value = row[column];
  if (!Buffer.isBuffer(value)) throw new RowShapeError(column, 'bytea', value);
  return value;
}

export function textArray(row: Row, column: string): string[] {
  const value = row[column];
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) {
    throw new RowShapeError(column, 'text[]', value);
  }
  return value;
}

export function stringRecord(row: Row, column: string): Record<string, string> {
  const value = row[column];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RowShapeError(column, 'jsonb object', value);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new RowShapeError(`${column}.${k}`, 'string', v);
    out[k] = v;
  }
  return out;
}
