import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';
import { InvalidInputError, UnscopedQueryError } from './errors.ts';
import { quoteIdent, tenantSchemaName } from './identifiers.ts';
import { queryPrepared } from './prepared.ts';
import { withTransaction } from './transaction.ts';

/** What a tenant-scoped handle can do, on the pool or inside one transaction. */
export interface TenantQueryable {
  readonly tenant: string;
  /** The tenant's schema as a quoted identifier, e.g. `"tenant_acme"`. */
  readonly schema: string;
  /** A quoted, schema-qualified table name, e.g. `"tenant_acme"."events"`. */
  table(name: string): string;
  /**
   * Runs `text` with every `:SCHEMA.` replaced by the tenant's quoted schema. Text without
   * `:SCHEMA.` is refused: an unscoped statement is exactly the mistake this handle exists to stop.
   * Rows are typed by the caller; validate them with a mapper before trusting them.
   * `prepared`: run it as a prepared statement (see queryPrepared), for the few statements run
   * thousands of times a second whose planning costs Postgres more than running them.
   */
  query<R extends QueryResultRow = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
    options?: { prepared?: boolean },
  ): Promise<QueryResult<R>>;
}

export type TenantTx = TenantQueryable;

export interface TenantDb extends TenantQueryable {
  /** Runs `fn` in one transaction on one connection; rolls back and rethrows if it throws. */
  transaction<T>(fn: (tx: TenantTx) => Promise<T>): Promise<T>;
}

const PLACEHOLDER = ':SCHEMA.';
const TABLE_NAME = /^[a-z_]+$/;

function scope(schema: string, text: string): string {
  if (!text.includes(PLACEHOLDER)) throw new UnscopedQueryError(text);
  return text.replaceAll(PLACEHOLDER, `${schema}.`);
}

type Runner = Pool | PoolClient;

function queryable(tenant: string, schema: string, runner: Runner): TenantQueryable {
  return {
    tenant,
    schema,
    table(name: string): string {
      if (!TABLE_NAME.test(name))
        throw new InvalidInputError(`invalid table name ${JSON.stringify(name)}`);
      return `${schema}.${quoteIdent(name)}`;
    },
    // async so a refused query is a rejected promise, like every other query failure.
    async query<R extends QueryResultRow = Record<string, unknown>>(
      text: string,
      params: readonly unknown[] = [],
      options: { prepared?: boolean } = {},
    ): Promise<QueryResult<R>> {
      if (options.prepared === true) return queryPrepared<R>(runner, scope(schema, text), params);
      return runner.query<R>(scope(schema, text), [...params]);
    },
  };
}

// Handles are stateless apart from their pool, so one per (pool, tenant) is enough.
const handles = new WeakMap<Pool, Map<string, TenantDb>>();

/** A handle whose every query is confined to `tenant`'s schema. Throws InvalidIdError for a bad id. */
export function forTenant(pool: Pool, tenant: string): TenantDb {
  let byTenant = handles.get(pool);
  if (!byTenant) {
    byTenant = new Map();
    handles.set(pool, byTenant);
  }
  const cached = byTenant.get(tenant);
  if (cached) return cached;

  const schema = quoteIdent(tenantSchemaName(tenant));
  const handle: TenantDb = {
    ...queryable(tenant, schema, pool),
    transaction<T>(fn: (tx: TenantTx) => Promise<T>): Promise<T> {
      return withTransaction(pool, (client) => fn(queryable(tenant, schema, client)));
    },
  };
  byTenant.set(tenant, handle);
  return handle;
}
