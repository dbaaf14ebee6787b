import { describe, expect, it } from 'vitest';
import { HELD_AFTER_MS, InstanceHolds } from './instance-holds.ts';

describe('InstanceHolds', () => {
  it('holds only the later events of the held instance, timed to follow the held event', () => {
    const holds = new InstanceHolds();
    holds.hold('phone-1', 10, 5_000);
    expect(holds.holding('phone-1', 10, 1_000)).toBeUndefined();
    expect(holds.holding('phone-1', 7, 1_000)).toBeUndefined();
    expect(holds.holding('phone-2', 12, 1_000)).toBeUndefined();
    expect(holds.holding('phone-1', 12, 1_000)).toEqual({ streamSeq: 10, delayMs: 4_000 + HELD_AFTER_MS });
  });

  it('lets the instance go once the held event is through, or once it is long overdue', () => {
    const holds = new InstanceHolds({ graceMs: 1_000 });
    holds.hold('phone-1', 10, 5_000);
    holds.release('phone-1', 9);
    expect(holds.holding('phone-1', 12, 5_000)).toBeDefined();
    holds.release('phone-1', 10);
    expect(holds.holding('phone-1', 12, 5_000)).toBeUndefined();

    holds.hold('phone-2', 20, 5_000);
    expect(holds.holding('phone-2', 21, 5_900)).toBeDefined();
    expect(holds.holding('phone-2', 21, 6_001)).toBeUndefined();
    expect(holds.size).toBe(0);
  });
});
