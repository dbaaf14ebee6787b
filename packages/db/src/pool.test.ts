import { randomBytes } from 'node:crypto';
import { DependencyUnreachableError } from '@switchyard/runtime';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPostgres, connectionOptions, createPool, ensureDatabase, pingPostgres } from './pool.ts';
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

  it('starts every connection with the settings given, the search_path still pinned', async () => {
    const generic = createPool({ url: TEST_URL, max: 2, settings: { plan_cache_mode: 'force_generic_plan', statement_timeout: '5s' } });
    try {
      const clients = [await generic.connect(), await generic.connect()];
      for (const client of clients) {
        const row = (await client.query<{ mode: string; timeout: string; path: string }>(
          `SELECT current_setting('plan_cache_mode') AS mode, current_setting('statement_timeout') AS timeout, current_setting('search_path') AS path`,
        )).rows[0];
        expect(row).toEqual({ mode: 'force_generic_plan', timeout: '5s', path: 'pg_catalog' });
      }
      for (const client of clients) client.release();
    } finally {
      await generic.end();
    }
    // The default pool keeps the server's own choice.
    expect((await pool.query<{ mode: string }>(`SELECT current_setting('plan_cache_mode') AS mode`)).rows[0]?.mode).toBe('auto');
  });

  it('refuses a setting that would unpin the search_path or need quoting', () => {
    expect(connectionOptions()).toBe('-c search_path=pg_catalog');
    expect(() => connectionOptions({ search_path: 'tenant_a' })).toThrow(/pinned/);
    expect(() => connectionOptions({ statement_timeout: '5s -c search_path=tenant_a' })).toThrow(/not a usable Postgres setting/);
    expect(() => connectionOptions({ 'x y': '1' })).toThrow(/not a usable Postgres setting/);
  });

  it('survives the backend of a checked-out connection being terminated, and reconnects', async () => {
    // Found by the chaos suite: pg emits 'error' on a checked-out client whose connection dies,
    // and without a listener that event crashed the whole service.
    const errors: Error[] = [];
    const victim = createPool({ url: TEST_URL, max: 1, onError: (e) => errors.push(e) });
    try {
      const client = await victim.connect();
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await client.query('BEGIN');
      const terminated = await pool.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]);
      expect(terminated.rows[0]?.ok).toBe(true);
      // With no query in flight, the dying connection reaches the client only as an 'error' event:
      // heard by the pool's listener, not fatal to the process.
      for (let i = 0; i < 100 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(errors.map((e) => e.message).join()).toMatch(/terminat/i);
      await expect(client.query('SELECT 1')).rejects.toThrow();
      client.release(true);
      const again = await victim.query<{ one: number }>('SELECT 1 AS one');
      expect(again.rows[0]?.one).toBe(1);
    } finally {
      await victim.end();
    }
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
