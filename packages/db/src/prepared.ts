import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';
import { isConnectionError } from './errors.ts';

/**
 * At most this many statements stay prepared on one connection; the least recently used one is
 * deallocated to make room. A plan of one of the hot statements takes 150–400 KiB of the
 * backend's memory, so 32 bound it to ~13 MiB per connection whatever the number of tenants
 * (their schemas make each tenant's statement text, and so its plan, its own).
 */
export const PREPARED_PER_CONNECTION = 32;

/** Statement names by text, process-wide; a name is never reused for another text. */
const names = new Map<string, string>();
const NAMES_MAX = 10_000;
let counter = 0;

function nameFor(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `sy_${(counter++).toString(36)}`;
    if (names.size >= NAMES_MAX) names.delete(names.keys().next().value!);
    names.set(text, name);
  }
  return name;
}

/** The names prepared on each connection, least recently used first. */
const preparedOn = new WeakMap<PoolClient, Map<string, true>>();

/** pg's own record of what it parsed on a connection (it skips Parse for a name found there). */
function parsedStatements(client: PoolClient): Record<string, string> | undefined {
  const parsed = (client as unknown as { connection?: { parsedStatements?: unknown } }).connection?.parsedStatements;
  return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, string>) : undefined;
}

function isPool(runner: Pool | PoolClient): runner is Pool {
  return !('release' in runner);
}

/**
 * Runs `text` as a prepared (named) statement, so Postgres parses and plans it once per
 * connection instead of on every call: for the store statement of persistence (a many-CTE
 * upsert into a partitioned table) planning was ~600 of the ~1,350 µs of Postgres time each call
 * took at 1,000 events/s. On a pool it checks a connection out for the call. Keeps at most
 * `capacity` statements prepared per connection (see PREPARED_PER_CONNECTION). Where pg no
 * longer exposes what it parsed (a future major version), it runs the statement unnamed.
 * On a checked-out client, calls must not overlap (as in a transaction, one statement after the
 * other): an eviction's DEALLOCATE and a concurrent call reusing that name could cross.
 */
export async function queryPrepared<R extends QueryResultRow = Record<string, unknown>>(
  runner: Pool | PoolClient,
  text: string,
  params: readonly unknown[],
  capacity = PREPARED_PER_CONNECTION,
): Promise<QueryResult<R>> {
  if (!isPool(runner)) return onClient<R>(runner, text, params, capacity);
  const client = await runner.connect();
  let failure: unknown;
  try {
    return await onClient<R>(client, text, params, capacity);
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    // A connection that failed is discarded (and its statements with it); any other error leaves it usable.
    client.release(failure !== undefined && isConnectionError(failure) ? (failure as Error) : undefined);
  }
}

async function onClient<R extends QueryResultRow>(client: PoolClient, text: string, params: readonly unknown[], capacity: number): Promise<QueryResult<R>> {
  const parsed = parsedStatements(client);
  if (parsed === undefined) return client.query<R>(text, [...params]);
  const name = nameFor(text);
  let prepared = preparedOn.get(client);
  if (prepared === undefined) preparedOn.set(client, (prepared = new Map<string, true>()));
  if (prepared.has(name)) {
    prepared.delete(name);
  } else {
    while (prepared.size >= Math.max(1, capacity)) {
      const oldest = prepared.keys().next().value!;
      prepared.delete(oldest);
      // Only what Postgres did prepare (a statement whose Parse failed never was).
      if (parsed[oldest] !== undefined) {
        await client.query(`DEALLOCATE ${oldest}`);
        delete parsed[oldest];
      }
    }
  }
  prepared.set(name, true);
  try {
    return await client.query<R>({ name, text, values: [...params] });
  } catch (err) {
    if (parsed[name] === undefined) prepared.delete(name);
    throw err;
  }
}
