import { randomBytes } from 'node:crypto';
import { DependencyUnreachableError } from '@switchyard/runtime';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPostgres, createPool, ensureDatabase, pingPostgres } from './pool.ts';
import { openTestPool, TEST_URL } from './test-helpers.ts';
import type { Pool } from 'pg';

let pool: Pool;
beforeAll(async () => {
  pool = await openTestPool();
});
afterAll(async () => {
  await pool.end();
});

describe('createPool', () => {
  it('searches pg_catalog only, so an unqualified tenant table name fails', async () => {
    const path = await pool.query<{ search_path: string }>('SHOW search_path');
    expect(path.rows[0]?.search_path).toBe('pg_catalog');
    await expect(pool.query('SELECT * FROM events')).rejects.toMatchObject({ code: '42P01' });
    await expect(pool.query('SELECT * FROM tenants')).rejects.toMatchObject({ code: '42P01' });
  });
});

describe('ensureDatabase', () => {
  it('creates a missing database once, even with concurrent callers', async () => {
    const name = `sy_ensure_${randomBytes(4).toString('hex')}`;
    const url = new URL(TEST_URL);
    url.pathname = `/${name}`;
    try {
      await Promise.all([ensureDatabase(url.toString()), ensureDatabase(url.toString())]);
      await ensureDatabase(url.toString());
      const exists = await pool.query('SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1', [
        name,
      ]);
      expect(exists.rowCount).toBe(1);
    } finally {
      const admin = new pg.Client({ connectionString: TEST_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${name}"`);
      await admin.end();
    }
  });
});

describe('checkPostgres / pingPostgres', () => {
  it('passes against the running server', async () => {
    await expect(checkPostgres(TEST_URL)).resolves.toBeUndefined();
    expect(await pingPostgres(pool)).toBe(true);
  });

  it('reports a refused connection as DependencyUnreachableError without the password', async () => {
    const url = 'postgres://postgres:hunter2@127.0.0.1:1/switchyard_test';
    const error = await checkPostgres(url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyUnreachableError);
    expect(String((error as Error).message)).not.toContain('hunter2');
    expect((error as DependencyUnreachableError).hint).toContain('pg_ctlcluster');
  });

  it('pings false when the server is unreachable', async () => {
    const dead = createPool({ url: 'postgres://postgres@127.0.0.1:1/x', connectionTimeoutMs: 500 });
    try {
      expect(await pingPostgres(dead, 1_000)).toBe(false);
    } finally {
      await dead.end();
    }
  });
});
