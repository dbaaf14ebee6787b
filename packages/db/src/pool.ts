import pg from 'pg';
import type { Pool } from 'pg';
import { DependencyUnreachableError, redactUrl } from '@switchyard/runtime';
import { isConnectionError, pgErrorCode } from './errors.ts';
import { quoteIdent } from './identifiers.ts';

export type { Pool, PoolClient } from 'pg';

export interface PoolOptions {
  url: string;
  /** Upper bound of open connections; pg's default is 10. */
  max?: number;
  /** Shown in pg_stat_activity, so an SRE can tell which service holds a connection. */
  applicationName?: string;
  /** How long to wait for a connection before failing; without it a black-holed host hangs forever. */
  connectionTimeoutMs?: number;
  /**
   * Called when a pooled connection dies (e.g. Postgres restarted, backend terminated), idle or
   * checked out. pg discards that client and the next query reconnects; without a listener the
   * error would crash the process. Defaults to a line on stderr.
   */
  onError?: (error: Error) => void;
  /**
   * Server settings every connection of the pool starts with (sent as `-c name=value` at
   * connect), e.g. `{ plan_cache_mode: 'force_generic_plan' }`. The search_path is not one of them.
   */
  settings?: Readonly<Record<string, string>>;
}

const SETTING_NAME = /^[a-z_][a-z0-9_.]*$/;
const SETTING_VALUE = /^[A-Za-z0-9_.:-]+$/;

/** The startup `options` of a pool: the pinned search_path, then `settings` in the order given. */
export function connectionOptions(settings: Readonly<Record<string, string>> = {}): string {
  const parts = ['-c search_path=pg_catalog'];
  for (const [name, value] of Object.entries(settings)) {
    if (name === 'search_path') throw new Error('search_path is pinned to pg_catalog; tenant schemas are named in every statement');
    // The options string is split on spaces by the server: refuse what would need escaping.
    if (!SETTING_NAME.test(name) || !SETTING_VALUE.test(value)) throw new Error(`not a usable Postgres setting: ${name}=${value}`);
    parts.push(`-c ${name}=${value}`);
  }
  return parts.join(' ');
}

/**
 * The search_path holds pg_catalog only, so an unqualified tenant table name fails loudly
 * ("relation does not exist") instead of silently reading whichever schema happens to match.
 */
export function createPool(options: PoolOptions): Pool {
  const connection = connectionOptions(options.settings);
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max,
    application_name: options.applicationName,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    options: connection,
  });
  const onError = options.onError ?? ((error: Error) => process.stderr.write(`postgres connection error: ${error.message}\n`));
  pool.on('error', onError);
  // A checked-out client whose connection dies (Postgres restarted, backend terminated) emits
  // 'error' as well. The query in flight rejects with it, so callers retry; but pg-pool only
  // listens while a client is idle, and an 'error' event with no listener crashes the process.
  pool.on('connect', (client) => client.on('error', onError));
  return pool;
}

function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (name === '') throw new Error(`database url has no database name: ${redactUrl(url)}`);
  return name;
}

async function databaseExists(adminUrl: string, name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const result = await client.query('SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1', [
      name,
    ]);
    return result.rowCount === 1;
  } finally {
    await client.end();
  }
}

/**
 * Creates the database named in `url` if it is missing. Several processes may start at once, so
 * losing the race to another creator is success, not failure.
 */
export async function ensureDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const adminUrl = admin.toString();
  if (await databaseExists(adminUrl, name)) return;

  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
  } catch (error) {
    // 42P04 duplicate_database; 23505 when the concurrent creator wins inside the catalog insert.
    const code = pgErrorCode(error);
    if (code !== '42P04' && code !== '23505' && !(await databaseExists(adminUrl, name)))
      throw error;
  } finally {
    await client.end();
  }
}

/**
 * One connection attempt and `SELECT 1`, for startup: an unreachable server becomes a
 * DependencyUnreachableError (with the start command as hint); anything else (bad password,
 * missing database) is rethrown as is.
 */
export async function checkPostgres(url: string, timeoutMs = 5_000): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  // A socket error after connect would otherwise be an unhandled 'error' event.
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    if (isConnectionError(error))
      throw new DependencyUnreachableError({ dependency: 'postgres', url, cause: error });
    throw error;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Readiness: true when the pool can run a trivial query within `timeoutMs`. Never throws. */
export async function pingPostgres(pool: Pool, timeoutMs = 2_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const ping = pool.query('SELECT 1').then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([ping, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
