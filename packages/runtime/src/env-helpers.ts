import { z } from 'zod';
import { parseDuration, parseDurationList } from './duration.ts';
import { redactUrl } from './redact-url.ts';

/**
 * A schema for one environment variable: reads a string (or nothing), yields a typed value.
 * Defaults are the raw env text (zod `prefault`) so generated docs show `10s`, not `10000`.
 */
export type EnvSchema<T> = z.ZodType<T, string | undefined>;

const MAX_ECHO = 60;

function echo(raw: string): string {
  const shown = redactUrl(raw);
  return JSON.stringify(shown.length > MAX_ECHO ? `${shown.slice(0, MAX_ECHO)}…` : shown);
}

/** Builds an env schema from a parser; `expected` reads as "<VAR>: <expected> (got "…")". */
export function envValue<T>(
  parse: (raw: string) => T | undefined,
  expected: string,
  defaultRaw?: string,
): EnvSchema<T> {
  const schema = z
    .string({ error: (issue) => (issue.input === undefined ? 'is required but not set' : expected) })
    .transform((raw, ctx) => {
      const value = parse(raw.trim());
      if (value !== undefined) return value;
      ctx.issues.push({ code: 'custom', message: `${expected} (got ${echo(raw)})`, input: raw });
      return z.NEVER;
    });
  return defaultRaw === undefined ? schema : schema.prefault(defaultRaw);
}

export interface EnvIntOptions {
  min?: number;
  max?: number;
  default?: number;
}

export function envInt(options: EnvIntOptions = {}): EnvSchema<number> {
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = options;
  const range = options.min !== undefined || options.max !== undefined ? ` ${min}-${max}` : '';
  const parse = (raw: string): number | undefined => {
    if (!/^-?\d+$/.test(raw)) return undefined;
    const value = Number(raw);
    return value >= min && value <= max ? value : undefined;
  };
  return envValue(parse, `expected integer${range}`, options.default?.toString());
}

const BOOL_WORDS: Record<string, boolean> = { true: true, false: false, '1': true, '0': false, yes: true, no: false };

/** Accepts true/false/1/0/yes/no, case-insensitive. */
export function envBool(defaultValue?: boolean): EnvSchema<boolean> {
  return envValue((raw) => BOOL_WORDS[raw.toLowerCase()], 'expected true/false/1/0/yes/no', defaultValue?.toString());
}

/** A duration such as `250ms`, `10s`, `2m`, `1h`, `7d`, as milliseconds. */
export function envDuration(defaultValue?: string): EnvSchema<number> {
  return envValue(parseDuration, 'expected a duration like 250ms, 10s, 2m, 1h or 7d', defaultValue);
}

/** A comma-separated list of durations (`0s,10s,30s,2m`), as milliseconds. */
export function envDurationList(defaultValue?: string): EnvSchema<number[]> {
  return envValue(parseDurationList, 'expected comma-separated durations like 0s,10s,30s,2m', defaultValue);
}

/** A URL whose scheme is one of `protocols` (given without `://`, e.g. `['nats', 'tls']`). Kept as a string. */
export function envUrl(protocols: readonly string[], defaultValue?: string): EnvSchema<string> {
  const accepted = new Set(protocols.map((protocol) => `${protocol.replace(/:?(\/\/)?$/, '')}:`));
  const parse = (raw: string): string | undefined => {
    if (!URL.canParse(raw)) return undefined;
    return accepted.has(new URL(raw).protocol) ? raw : undefined;
  };
  const names = [...accepted].map((protocol) => `${protocol}//`).join(' or ');
  return envValue(parse, `must be a ${names} URL`, defaultValue);
}

export function envEnum<const T extends readonly [string, ...string[]]>(
  values: T,
  defaultValue?: T[number],
): EnvSchema<T[number]> {
  const allowed = new Set<string>(values);
  const parse = (raw: string): T[number] | undefined => (allowed.has(raw) ? raw : undefined);
  return envValue(parse, `expected one of ${values.join(', ')}`, defaultValue);
}

/** Any non-empty string. */
export function envString(defaultValue?: string): EnvSchema<string> {
  return envValue((raw) => (raw === '' ? undefined : raw), 'expected a non-empty string', defaultValue);
}
