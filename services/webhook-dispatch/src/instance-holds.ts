/** Held events come back this long after the event they wait for. */
export const HELD_AFTER_MS = 50;

/**
 * Per-instance order through fan-out retries. When an event's publish fails it is nak'd, but the
 * consumer keeps delivering later messages (only that one is pending); without a hold, a later
 * event of the same instance would be fanned out first. So the instance is held at the failed
 * event's stream sequence: its later events are retried too, timed to come back just after it,
 * until it is through (released) — or, should it never come back to this replica, until
 * `graceMs` after its retry was due, so an instance can never stall for good.
 */
export class InstanceHolds {
  readonly #holds = new Map<string, Hold>();
  readonly #graceMs: number;

  constructor(options: { graceMs?: number } = {}) {
    this.#graceMs = options.graceMs ?? 60_000;
  }

  /**
   * Whether the event at `streamSeq` must wait, and how long: undefined when it may go (the
   * held event itself, or anything once the hold is released or expired).
   */
  holding(instance: string, streamSeq: number, now: number): { streamSeq: number; delayMs: number } | undefined {
    const hold = this.#holds.get(instance);
    if (hold === undefined || streamSeq <= hold.streamSeq) return undefined;
    if (now > hold.retryAt + this.#graceMs) {
      this.#holds.delete(instance);
      return undefined;
    }
    return { streamSeq: hold.streamSeq, delayMs: Math.max(0, hold.retryAt - now) + HELD_AFTER_MS };
  }

  /** The event at `streamSeq` failed and comes back at `retryAt`: hold its instance's later events. */
  hold(instance: string, streamSeq: number, retryAt: number): void {
    this.#holds.set(instance, { streamSeq, retryAt });
  }

  /** The event at `streamSeq` is through (or given up on): its instance goes on. */
  release(instance: string, streamSeq: number): void {
    const hold = this.#holds.get(instance);
    if (hold !== undefined && hold.streamSeq <= streamSeq) this.#holds.delete(instance);
  }

  get size(): number {
    return this.#holds.size;
  }
}

interface Hold {
  streamSeq: number;
  retryAt: number;
}
