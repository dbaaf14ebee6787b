import { randomBytes } from 'node:crypto';
import { createPool, quoteIdent } from '@switchyard/db';

export interface ScratchDatabase {
  readonly url: string;
  readonly name: string;
  /** Drops the database, closing whatever is still connected to it. */
  drop(): Promise<void>;
}

/**
 * A fresh database on the server of `baseUrl`: a benchmark's tables, tenants and statistics are
 * its own and nothing left by tests pollutes its figures; a test's control rows (tenants, media
 * purges) are seen by nothing else. Always `drop()` it.
 */
export async function createScratchDatabase(
  baseUrl: string,
  prefix = 'switchyard_bench',
): Promise<ScratchDatabase> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new URL(baseUrl);
  admin.pathname = '/postgres';
  const run = async (sql: string): Promise<void> => {
    const pool = createPool({ url: admin.toString(), max: 1, applicationName: 'switchyard-scratch' });
    try {
      await pool.query(sql);
    } finally {
      await pool.end();
    }
  };
  await run(`CREATE DATABASE ${quoteIdent(name)}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    // WITH (FORCE) (Postgres 13+): a service killed mid-run may leave a backend behind.
    drop: () => run(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`),
  };
}
