import { describe, expect, it } from 'vitest';
import { retainedFrom } from './retention.ts';

describe('retainedFrom', () => {
  it("follows persistence's monthly partitions: a month goes once all of it is past the cutoff", () => {
    const now = new Date('2026-11-25T12:00:00Z');
    expect(retainedFrom(0, now)).toBeUndefined();
    // Cutoff 2026-10-26: October is not wholly past it, September is.
    expect(retainedFrom(30, now)).toEqual(new Date('2026-10-01T00:00:00Z'));
    // Cutoff exactly on a month's first instant: the month before ends there and goes.
    expect(retainedFrom(24, new Date('2026-11-25T00:00:00Z'))).toEqual(new Date('2026-11-01T00:00:00Z'));
    expect(retainedFrom(400, now)).toEqual(new Date('2025-10-01T00:00:00Z'));
  });
});
