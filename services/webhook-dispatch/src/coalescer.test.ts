import { describe, expect, it } from 'vitest';
import { Coalescer } from './coalescer.ts';

describe('Coalescer', () => {
  it('runs calls made together as one batch, and calls made during a flush as the next', async () => {
    const batches: number[][] = [];
    let release: () => void = () => undefined;
    const coalescer = new Coalescer<number, number>({
      keyOf: String,
      run: async (inputs) => {
        batches.push(inputs);
        if (batches.length === 1) await new Promise<void>((resolve) => (release = resolve));
        return inputs.map((n) => n * 10);
      },
    });
    const first = [coalescer.submit(1), coalescer.submit(2)];
    await new Promise((resolve) => setImmediate(resolve));
    const second = [coalescer.submit(3), coalescer.submit(4), coalescer.submit(5)];
    release();
    expect(await Promise.all([...first, ...second])).toEqual([10, 20, 30, 40, 50]);
    expect(batches).toEqual([[1, 2], [3, 4, 5]]);
  });

  it('never puts two calls with the same key in one batch', async () => {
    const batches: string[][] = [];
    const coalescer = new Coalescer<string, string>({
      keyOf: (s) => s.split(':')[0] ?? s,
      run: (inputs) => {
        batches.push(inputs);
        return Promise.resolve(inputs);
      },
    });
    await Promise.all(['a:1', 'b:1', 'a:2', 'c:1', 'a:3'].map((s) => coalescer.submit(s)));
    expect(batches).toEqual([['a:1', 'b:1', 'c:1'], ['a:2'], ['a:3']]);
  });

  it('fails every call of a failed batch, and keeps going with the next', async () => {
    let calls = 0;
    const coalescer = new Coalescer<number, number>({
      keyOf: String,
      run: (inputs) => (++calls === 1 ? Promise.reject(new Error('postgres down')) : Promise.resolve(inputs)),
    });
    const failed = [coalescer.submit(1), coalescer.submit(2)].map((p) => p.catch((err: unknown) => (err as Error).message));
    expect(await Promise.all(failed)).toEqual(['postgres down', 'postgres down']);
    expect(await coalescer.submit(3)).toBe(3);
  });
});
