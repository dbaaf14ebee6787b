import type { Pool } from '@switchyard/db';

/**
 * Runs `fn` holding the Postgres session advisory lock named `name`, on a connection of its own,
 * or answers `{ locked: false }` at once when another session holds it: replicas running the same
 * pass take turns rather than doing the work twice. A session lock rather than a transaction's,
 * so a long `fn` (a bucket listing) keeps no transaction open; if the process dies, its connection
 * and the lock go with it.
 */
export async function withSessionLock<T>(pool: Pool, name: string, fn: () => Promise<T>): Promise<{ locked: true; value: T } | { locked: false }> {
  const client = await pool.connect();
  let locked = false;
  let broken: Error | undefined;
  try {
    locked = (await client.query<{ locked: boolean }>('SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext($1)) AS locked', [name])).rows[0]?.locked === true;
    if (!locked) return { locked: false };
    return { locked: true, value: await fn() };
  } finally {
    if (locked) {
      try {
        await client.query('SELECT pg_catalog.pg_advisory_unlock(pg_catalog.hashtext($1))', [name]);
      } catch (err) {
        // Closing the connection ends its session, and the lock with it.
        broken = err instanceof Error ? err : new Error(String(err));
      }
    }
    client.release(broken);
  }
}
