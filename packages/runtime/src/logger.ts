import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type { LogLevel } from './env-fragments.ts';

export type { Logger } from 'pino';

/**
 * Field names for child loggers, so logs of one event can be found across services:
 * `logger.child({ tenant, instance, event_id, subject })`. Use exactly these keys.
 */
export interface LogContext {
  tenant?: string;
  instance?: string;
  event_id?: string;
  subject?: string;
}

/**
 * Message bodies and secrets are censored wherever a component is likely to log them. pino's
 * redaction needs explicit paths (one `*` level), so nested copies under another key are listed too.
 */
export const REDACT_PATHS: readonly string[] = [
  'data.text',
  'data.raw',
  'event.data.text',
  'event.data.raw',
  '*.data.text',
  '*.data.raw',
  '*.*.data.text',
  '*.*.data.raw',
  'body',
  '*.body',
  'payload',
  '*.payload',
  'secret',
  '*.secret',
  'password',
  '*.password',
  'apiKey',
  '*.apiKey',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.headers.authorization',
  '*.headers["x-api-key"]',
];

export const REDACTED = '[redacted]';

export interface CreateLoggerOptions {
  service: string;
  /** `silent` is for tests that do not inspect logs. */
  level?: LogLevel | 'silent';
  /** Pretty output through pino-pretty (a worker thread); ignored when `destination` is given. */
  pretty?: boolean;
  /** Where JSON lines go; defaults to stdout. Tests pass a stream to inspect output. */
  destination?: DestinationStream;
}

export function createLogger(options: CreateLoggerOptions): Logger {
  const base: LoggerOptions = {
    level: options.level ?? 'info',
    base: { service: options.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
  };
  if (options.destination) return pino(base, options.destination);
  if (options.pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino(base);
}
