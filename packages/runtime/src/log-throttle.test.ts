import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushLogThrottles, LogThrottle } from './log-throttle.ts';
import { createLogger } from './logger.ts';
import { LogSink } from './test-log-sink.ts';

describe('LogThrottle', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('logs the first occurrence per key, counts the rest, and summarizes them when the window ends', () => {
    vi.useFakeTimers();
    const sink = new LogSink();
    const logger = createLogger({ service: 'test', destination: sink });
    const records = () => sink.records;
    const throttle = new LogThrottle(1_000);
    const warn = (key: string, n: number) => throttle.warn(logger, key, { key, n }, 'rejected', 'more rejected');
    expect([warn('a', 1), warn('a', 2), warn('b', 1), warn('a', 3)]).toEqual([true, false, true, false]);
    expect(records().map((l) => [l['msg'], l['key'], l['n']])).toEqual([['rejected', 'a', 1], ['rejected', 'b', 1]]);
    vi.advanceTimersByTime(1_000);
    // b suppressed nothing, so it has no summary; a's carries its first occurrence's context.
    expect(records().slice(2).map((l) => [l['msg'], l['key'], l['suppressed'], l['window_ms']])).toEqual([['more rejected', 'a', 2, 1_000]]);
    // The next occurrence opens a new window; a shutdown flushes its count.
    expect([warn('a', 4), warn('a', 5)]).toEqual([true, false]);
    flushLogThrottles();
    expect(records().slice(3).map((l) => [l['msg'], l['n'], l['suppressed']])).toEqual([['rejected', 4, undefined], ['more rejected', 4, 1]]);
    vi.advanceTimersByTime(1_000);
    expect(records()).toHaveLength(5);
  });
});
