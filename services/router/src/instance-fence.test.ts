import { describe, expect, it } from 'vitest';
import { instanceFence } from './route-ingest.ts';

describe('instanceFence', () => {
  it('holds later messages while any earlier one of the instance is out for a retry, whatever order they come back in', () => {
    const fence = instanceFence();
    // 3 failed to publish; 4 was retried behind it; both are out for redelivery.
    fence.hold('phone-1', 3);
    fence.hold('phone-1', 4);
    expect(fence.holds('phone-1', 5)).toBe(3);
    expect(fence.holds('phone-2', 5)).toBeUndefined();
    // 3 is dead-lettered on its last delivery; 4 (longer backoff) is still out: 5 must wait for it.
    fence.passed('phone-1', 3);
    expect(fence.holds('phone-1', 5)).toBe(4);
    expect(fence.holds('phone-1', 4)).toBeUndefined();
    // 4 comes back and is routed: the instance flows again.
    fence.passed('phone-1', 4);
    expect(fence.holds('phone-1', 5)).toBeUndefined();
  });
});
