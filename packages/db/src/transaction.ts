import type { Pool, PoolClient } from 'pg';

/**
 * Runs `fn` inside BEGIN/COMMIT on one pooled client; on any error rolls back and rethrows the
 * original error. A client whose ROLLBACK failed is destroyed rather than returned to the pool,
 * since its connection state is unknown.
 */
export async function withTransaction<T>(
  pool: Pool,
  fn: (client: PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    }
    throw error;
  } finally {
    client.release(broken);
  }
}
