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

  it('with waitMs, holds a batch until its oldest call is that old, unless a full batch is there', async () => {
    const batches: { inputs: number[]; at: number }[] = [];
    const started = performance.now();
    const coalescer = new Coalescer<number, number>({
      keyOf: String,
      waitMs: 80,
      maxBatch: 4,
      run: (inputs) => {
        batches.push({ inputs, at: performance.now() - started });
        return Promise.resolve(inputs);
      },
    });
    const spread = [coalescer.submit(1)];
    await new Promise((resolve) => setTimeout(resolve, 30));
    spread.push(coalescer.submit(2));
    await new Promise((resolve) => setTimeout(resolve, 20));
    spread.push(coalescer.submit(3));
    expect(await Promise.all(spread)).toEqual([1, 2, 3]);
    // Three calls over 50 ms went as one statement, once the first was 80 ms old.
    expect(batches.map((b) => b.inputs)).toEqual([[1, 2, 3]]);
    expect(batches[0]!.at).toBeGreaterThanOrEqual(75);
    // A full batch does not wait.
    const full = performance.now();
    await Promise.all([5, 6, 7, 8].map((n) => coalescer.submit(n)));
    expect(batches[1]!.inputs).toEqual([5, 6, 7, 8]);
    expect(performance.now() - full).toBeLessThan(60);
  });

  it('without waitMs, a call made alone goes at once', async () => {
    const batches: number[][] = [];
    const coalescer = new Coalescer<number, number>({ keyOf: String, run: (inputs) => (batches.push(inputs), Promise.resolve(inputs)) });
    expect(await coalescer.submit(1)).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await coalescer.submit(2)).toBe(2);
    expect(batches).toEqual([[1], [2]]);
  });
});
