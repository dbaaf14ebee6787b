import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forTenant, type Pool } from '@switchyard/db';
import { createTestPool, createTestTenant, type TestTenant } from '@switchyard/testing';
import { allocateSeq, lastSeq } from './sequence.ts';

describe('allocateSeq', () => {
  let pool: Pool;
  let tenant: TestTenant;

  beforeAll(async () => {
    pool = await createTestPool();
    tenant = await createTestTenant(pool);
  });
  afterAll(async () => {
    await tenant.cleanup();
    await pool.end();
  });

  it('hands out contiguous ranges starting at 1, per instance', async () => {
    const db = forTenant(pool, tenant.tenant);
    expect(await lastSeq(db, 'a')).toBe(0);
    expect(await allocateSeq(db, 'a', 3)).toEqual({ first: 1, last: 3 });
    expect(await allocateSeq(db, 'a', 1)).toEqual({ first: 4, last: 4 });
    expect(await allocateSeq(db, 'b', 2)).toEqual({ first: 1, last: 2 });
    expect(await lastSeq(db, 'a')).toBe(4);
  });

  it('never overlaps ranges of concurrent allocators', async () => {
    const db = forTenant(pool, tenant.tenant);
    const ranges = await Promise.all(
      Array.from({ length: 20 }, (_, i) => allocateSeq(db, 'c', (i % 4) + 1)),
    );
    const numbers = ranges.flatMap(({ first, last }) =>
      Array.from({ length: last - first + 1 }, (_, k) => first + k),
    );
    expect(numbers.sort((x, y) => x - y)).toEqual(
      Array.from({ length: numbers.length }, (_, k) => k + 1),
    );
  });

  it('refuses an empty allocation', async () => {
    await expect(allocateSeq(forTenant(pool, tenant.tenant), 'a', 0)).rejects.toThrow(RangeError);
  });
});
