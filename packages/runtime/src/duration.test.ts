import { describe, expect, it } from 'vitest';
import { parseDuration, parseDurationList } from './duration.ts';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['10s', 10_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    ['0s', 0],
    ['1.5s', 1_500],
  ])('%s → %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['30', '', '10 s', '-1s', '5w', 's'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('parses lists', () => {
    expect(parseDurationList('0s,10s,30s,2m')).toEqual([0, 10_000, 30_000, 120_000]);
    expect(parseDurationList('0s,nope')).toBeUndefined();
  });
});
