import { z } from 'zod';
import { ConfigError, type ConfigIssue } from './errors.ts';

export interface LoadConfigOptions {
  /** Named in the error message so an operator knows which deployment is misconfigured. */
  service?: string;
}

/**
 * Parses the environment against a service's schema. Call it from `start()`, never at import
 * time. Empty variables count as unset (so `FOO=` in a compose file falls back to the default).
 * @throws ConfigError listing every bad variable at once, one per line.
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
  options: LoadConfigOptions = {},
): z.output<S> {
  const result = schema.safeParse(withoutEmptyValues(env));
  if (result.success) return result.data;
  const issues = result.error.issues.map(toConfigIssue);
  const lines = issues.map((issue) => `  ${issue.variable}: ${issue.problem}`);
  const heading = `invalid configuration${options.service ? ` for ${options.service}` : ''}:`;
  throw new ConfigError([heading, ...lines].join('\n'), issues, { cause: result.error });
}

function withoutEmptyValues(env: Record<string, string | undefined>): Record<string, string> {
  const entries = Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '');
  return Object.fromEntries(entries);
}

function toConfigIssue(issue: z.core.$ZodIssue): ConfigIssue {
  const variable = issue.path.length > 0 ? issue.path.map(String).join('.') : '(config)';
  return { variable, problem: issue.message };
}

export interface EnvVariableDoc {
  name: string;
  description: string | undefined;
  /** The default as it would be written in the environment (`10s`), if any. */
  default: string | undefined;
  required: boolean;
}

/** Lists a config schema's variables for generated docs (README tables, Helm values comments). */
export function describeEnv(schema: z.ZodObject): EnvVariableDoc[] {
  return Object.entries(schema.shape).map(([name, field]) => describeField(name, field as z.ZodType));
}

function describeField(name: string, field: z.ZodType): EnvVariableDoc {
  let description: string | undefined;
  let defaultText: string | undefined;
  let optional = false;
  let current: z.ZodType | undefined = field;
  while (current) {
    description ??= current.description;
    if (current instanceof z.ZodPrefault || current instanceof z.ZodDefault) {
      defaultText ??= formatDefault(current.def.defaultValue);
    }
    if (current instanceof z.ZodOptional) optional = true;
    current = innerOf(current);
  }
  return { name, description, default: defaultText, required: !optional && defaultText === undefined };
}

function innerOf(schema: z.ZodType): z.ZodType | undefined {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) return schema.unwrap() as z.ZodType;
  if (schema instanceof z.ZodPrefault || schema instanceof z.ZodDefault) return schema.unwrap() as z.ZodType;
  return undefined;
}

function formatDefault(value: unknown): string {
  if (Array.isArray(value)) return value.map(String).join(',');
  return typeof value === 'string' ? value : JSON.stringify(value);
}
