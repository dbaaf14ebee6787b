import { redactUrl } from './redact-url.ts';

export interface SwitchyardErrorOptions {
  code: string;
  /** True when retrying cannot help (bad input, bad config): the DLQ path gives up at once. */
  nonRetryable?: boolean;
  cause?: unknown;
}

/** Base of every error we throw on purpose: a machine-readable `code` and a retry classification. */
export class SwitchyardError extends Error {
  override name = 'SwitchyardError';
  readonly code: string;
  readonly nonRetryable: boolean;

  constructor(message: string, options: SwitchyardErrorOptions) {
    super(message, { cause: options.cause });
    this.code = options.code;
    this.nonRetryable = options.nonRetryable ?? false;
  }
}

export interface ConfigIssue {
  /** The environment variable at fault, or `(config)` for a cross-field rule. */
  variable: string;
  problem: string;
}

/** Thrown by `loadConfig` when any variable is missing or malformed; lists all of them at once. */
export class ConfigError extends SwitchyardError {
  override name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];

  constructor(message: string, issues: readonly ConfigIssue[], options: { cause?: unknown } = {}) {
    super(message, { code: 'CONFIG_INVALID', nonRetryable: true, cause: options.cause });
    this.issues = issues;
  }
}

export type Dependency = 'nats' | 'postgres';

const DEPENDENCY_LABEL: Record<Dependency, string> = { nats: 'NATS', postgres: 'Postgres' };

/** The exact command that starts each dependency on a developer machine or CI box. */
export const DEPENDENCY_START_HINT: Record<Dependency, string> = {
  nats: 'nats-server -js',
  postgres: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
};

export interface DependencyUnreachableOptions {
  dependency: Dependency;
  url: string;
  cause?: unknown;
  /** Overrides the default start command when a deployment starts it differently. */
  hint?: string;
}

/**
 * Thrown at startup when NATS or Postgres cannot be reached. Its message is one readable
 * paragraph meant to be printed as-is (no stack): what was unreachable, where, why, and how to start it.
 * Retryable: the dependency may simply not be up yet.
 */
export class DependencyUnreachableError extends SwitchyardError {
  override name = 'DependencyUnreachableError';
  readonly dependency: Dependency;
  /** The URL with any password removed, safe to log. */
  readonly url: string;
  readonly hint: string;

  constructor(options: DependencyUnreachableOptions) {
    const url = redactUrl(options.url);
    const hint = options.hint ?? DEPENDENCY_START_HINT[options.dependency];
    const label = DEPENDENCY_LABEL[options.dependency];
    const reason = describeCause(options.cause);
    super(
      `cannot reach ${label} at ${url}${reason ? ` (${reason})` : ''}. ` +
        `Is it running? Start it with: ${hint}`,
      { code: 'DEPENDENCY_UNREACHABLE', nonRetryable: false, cause: options.cause },
    );
    this.dependency = options.dependency;
    this.url = url;
    this.hint = hint;
  }
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return '';
  const code = (cause as { code?: unknown }).code;
  const text = typeof code === 'string' && code !== '' ? `${code}: ${cause.message}` : cause.message;
  return redactSecretsInText(text.split('\n')[0] ?? '');
}

// Driver messages sometimes echo the connection string; never let a password through.
function redactSecretsInText(text: string): string {
  return text.replace(/(\w+:\/\/[^:/@\s]*:)[^@\s]*@/g, '$1***@');
}

const MAX_CAUSE_DEPTH = 10;

/**
 * True when the error, or any error in its cause chain, says retrying cannot help
 * (`nonRetryable === true`). Works on errors from other packages that follow the convention.
 */
export function isNonRetryable(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && isObject(current); depth++) {
    if (current.nonRetryable === true) return true;
    current = current.cause;
  }
  return false;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
