import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runPeriodically } from './periodic.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('runPeriodically', () => {
  it('runs at once and then every interval, skipping the ticks that come while a run is going', async () => {
    const starts: number[] = [];
    let active = 0;
    let overlapped = false;
    const job = runPeriodically(async () => {
      active++;
      if (active > 1) overlapped = true;
      starts.push(Date.now());
      await sleep(70);
      active--;
    }, 20, () => undefined);
    const t0 = starts[0]!;
    await vi.advanceTimersByTimeAsync(250);
    // Ticks at 20, 40, 60 come while the first run (70 ms) goes; 80 starts the second, and so on.
    expect(starts.map((t) => t - t0)).toEqual([0, 80, 160, 240]);
    expect(overlapped).toBe(false);
    const stopped = job.stop();
    await vi.advanceTimersByTimeAsync(100);
    await stopped;
    expect(starts).toHaveLength(4);
  });

  it('hands a failed run to onError and runs again at the next tick; stop waits for the run in flight', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    let finished = 0;
    const job = runPeriodically(async () => {
      runs++;
      if (runs === 1) throw new Error('first run fails');
      await sleep(30);
      finished++;
    }, 10, (err) => errors.push(err));
    await vi.advanceTimersByTimeAsync(15);
    expect(runs).toBe(2);
    let done = false;
    const stopped = job.stop().then(() => (done = true));
    await vi.advanceTimersByTimeAsync(5);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(30);
    await stopped;
    expect(errors.map((e) => (e as Error).message)).toEqual(['first run fails']);
    expect(finished).toBe(1);
    expect(runs).toBe(2);
  });
});
