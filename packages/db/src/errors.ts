/** Errors raised by the db package, and typed predicates over Postgres errors. */
import { SwitchyardError } from '@switchyard/runtime';

/** A caller passed something the database layer refuses before touching Postgres. Never retryable. */
export class InvalidInputError extends SwitchyardError {
  override name = 'InvalidInputError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'INVALID_INPUT', nonRetryable: true, cause: options.cause });
  }
}

/** The tenant is not provisioned (no control row or no schema). Never retryable as-is. */
export class TenantNotFoundError extends SwitchyardError {
  override name = 'TenantNotFoundError';
  constructor(
    readonly tenant: string,
    options: { cause?: unknown } = {},
  ) {
    super(`tenant ${JSON.stringify(tenant)} is not provisioned`, {
      code: 'TENANT_NOT_FOUND',
      nonRetryable: true,
      cause: options.cause,
    });
  }
}

/** A tenant query was written without `:SCHEMA.`, so it could not be scoped. A programming error. */
export class UnscopedQueryError extends SwitchyardError {
  override name = 'UnscopedQueryError';
  constructor(text: string) {
    super(`tenant query must name its tables as :SCHEMA.<table>: ${text.slice(0, 120)}`, {
      code: 'UNSCOPED_QUERY',
      nonRetryable: true,
    });
  }
}

/** A row did not have the shape its mapper expects: the schema and the code disagree. */
export class RowShapeError extends SwitchyardError {
  override name = 'RowShapeError';
  constructor(column: string, expected: string, value: unknown) {
    super(`column ${column}: expected ${expected}, got ${value === null ? 'null' : typeof value}`, {
      code: 'ROW_SHAPE',
      nonRetryable: true,
    });
  }
}

/** A migration file could not be read or applied. */
export class MigrationError extends SwitchyardError {
  override name = 'MigrationError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'MIGRATION_FAILED', nonRetryable: true, cause: options.cause });
  }
}

/** The SQLSTATE of a Postgres error (or the errno code of a socket error), if there is one. */
export function pgErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = error.code;
  return typeof code === 'string' ? code : undefined;
}

const CONNECTION_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
]);
// admin_shutdown, crash_shutdown, cannot_connect_now: the server is restarting.
const RESTART_STATES = new Set(['57P01', '57P02', '57P03']);

/**
 * True when the error means "Postgres is not reachable right now" rather than "this statement is
 * wrong": the caller should retry later instead of dead-lettering the message.
 */
export function isConnectionError(error: unknown): boolean {
  const code = pgErrorCode(error);
  if (code !== undefined) {
    // Class 08 is connection_exception.
    return CONNECTION_ERRNOS.has(code) || RESTART_STATES.has(code) || code.startsWith('08');
  }
  // pg reports its own timeouts and dropped sockets without a code.
  const message = error instanceof Error ? error.message : '';
  return /timeout|Connection terminated|connection is closed/i.test(message);
}
